// World tokenizer: escapes, the vocabulary file parser, greedy longest match
// (against the reference goldens), byte-exact round trips and the streaming
// UTF-8 decoder.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "convert_source.h"
#include "error.h"
#include "testing.h"
#include "tokenizer.h"

using namespace rwkvx;

namespace {

// Per-process scratch names: ctest and a developer's run may overlap, and a
// file rewritten under another process's mapping would fault there.
std::string scratch(const std::string& name) { return testing::scratch(std::to_string(getpid()) + "-" + name); }


const std::string kWorld = testing::shared_path("vocab/rwkv_vocab_v20230424.txt");
const std::string kTiny = testing::fixture("models/tiny-vocab.txt");

template <class F>
rwkvx_status status_of(F&& f, std::string* msg = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (msg) *msg = e.what();
    return e.code();
  }
  return RWKVX_OK;
}

std::string decode(const Tokenizer& t, const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += t.bytes(id);
  return s;
}

const Tokenizer* world() {
  static Tokenizer* t = [] {
    if (!testing::file_exists(kWorld)) return static_cast<Tokenizer*>(nullptr);
    auto* tok = new Tokenizer();
    tok->build_from_world_file(kWorld);
    return tok;
  }();
  return t;
}

bool skip_without_world() {
  if (world() != nullptr) return false;
  std::printf("  skipped: %s not found (the shared World vocabulary is not committed)\n", kWorld.c_str());
  return true;
}

std::string from_hex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

// Is s well-formed UTF-8?
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
    if (n == 0 || i + static_cast<size_t>(n) > s.size()) return false;
    for (int k = 1; k < n; ++k) {
      const unsigned char b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      unsigned char lo = 0x80, hi = 0xbf;
      if (k == 1 && c == 0xe0) lo = 0xa0;
      if (k == 1 && c == 0xed) hi = 0x9f;
      if (k == 1 && c == 0xf0) lo = 0x90;
      if (k == 1 && c == 0xf4) hi = 0x8f;
      if (b < lo || b > hi) return false;
    }
    i += static_cast<size_t>(n);
  }
  return true;
}

void check_goldens(const Tokenizer& tok, const std::string& golden_path) {
  std::ifstream f(golden_path, std::ios::binary);
  if (!f) {
    std::printf("  skipped: %s not found\n", golden_path.c_str());
    return;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  const Json j = json_parse(text.data(), text.size(), golden_path);
  const Json* cases = j.get("cases");
  REQUIRE(cases && cases->kind == Json::Arr && !cases->arr.empty());
  int n = 0;
  for (const Json& c : cases->arr) {
    const std::string name = c.get("name")->str;
    const std::string bytes = from_hex(c.get("hex")->str);
    std::vector<int32_t> want;
    for (const Json& id : c.get("ids")->arr) want.push_back(static_cast<int32_t>(id.i));
    const std::vector<int32_t> got = tok.encode(bytes.data(), bytes.size());
    CHECK_MSG(got == want, "golden case '%s' (%zu bytes): %zu ids, expected %zu", name.c_str(), bytes.size(), got.size(), want.size());
    CHECK(decode(tok, got) == bytes);
    ++n;
  }
  std::printf("  %d golden cases from %s\n", n, golden_path.c_str());
}

std::string write_temp(const std::string& name, const std::string& content) {
  const std::string p = scratch(name);
  std::ofstream f(p, std::ios::binary);
  f << content;
  return p;
}

}  // namespace

TEST(escape_matches_python_bytes_repr) {
  CHECK(escape_token_bytes(std::string(1, '\0')) == "\\x00");
  CHECK(escape_token_bytes("\t\n\r") == "\\t\\n\\r");
  CHECK(escape_token_bytes("\\") == "\\\\");
  CHECK(escape_token_bytes("a b~") == "a b~");
  CHECK(escape_token_bytes("\x7f\x80\xff") == "\\x7f\\x80\\xff");
  CHECK(escape_token_bytes("\xc3\xa9") == "\\xc3\\xa9");
  // repr(b"'") is b"'" (double quotes, no escape); repr(b"'\"") is b'\'"'.
  CHECK(escape_token_bytes("'") == "'");
  CHECK(escape_token_bytes("it's") == "it's");
  CHECK(escape_token_bytes("'\"") == "\\'\"");
  CHECK(escape_token_bytes("\"") == "\"");
}

TEST(escape_unescape_round_trip_all_bytes) {
  std::string all;
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    const std::string e = escape_token_bytes(one);
    CHECK_MSG(unescape_token_bytes(e) == one, "byte 0x%02x escaped as '%s'", b, e.c_str());
    for (char c : e) CHECK(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f);  // pure printable ASCII
    all += one;
  }
  CHECK(unescape_token_bytes(escape_token_bytes(all)) == all);
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 12, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    CHECK(unescape_token_bytes(escape_token_bytes(s)) == s);
  }
  CHECK(unescape_token_bytes("\\'\\\"") == "'\"");
}

TEST(unescape_rejects_bad_escapes) {
  std::string msg;
  CHECK(status_of([] { unescape_token_bytes("abc\\"); }, &msg) == RWKVX_ERR_FORMAT);
  CHECK(status_of([] { unescape_token_bytes("\\q"); }) == RWKVX_ERR_FORMAT);
  CHECK(status_of([] { unescape_token_bytes("\\x4"); }) == RWKVX_ERR_FORMAT);
  CHECK(status_of([] { unescape_token_bytes("\\xzz"); }) == RWKVX_ERR_FORMAT);
}

TEST(world_file_literals) {
  // str literals: \xNN and \uXXXX are code points (UTF-8 encoded); bytes literals: \xNN are raw bytes.
  const std::string p = write_temp("vocab-literals.txt",
                                   "1 'a' 1\n"
                                   "2 '\\xe9' 2\n"
                                   "3 b'\\xe9' 1\n"
                                   "4 '\\u2002' 3\n"
                                   "5 '\\U0001f600' 4\n"
                                   "6 'a b' 3\n"
                                   "7 \"it's\" 4\n"
                                   "8 '\\\\n' 2\n"
                                   "9 '\xe4\xbd\xa0' 3\n"
                                   "10 b'\\x00\\n' 2\n"
                                   "12 ' ' 1\r\n");
  Tokenizer t;
  t.build_from_world_file(p);
  CHECK(t.n_vocab() == 13);
  CHECK(t.bytes(0).empty());
  CHECK(t.bytes(1) == "a");
  CHECK(t.bytes(2) == "\xc3\xa9");
  CHECK(t.bytes(3) == "\xe9");
  CHECK(t.bytes(4) == "\xe2\x80\x82");
  CHECK(t.bytes(5) == "\xf0\x9f\x98\x80");
  CHECK(t.bytes(6) == "a b");
  CHECK(t.bytes(7) == "it's");
  CHECK(t.bytes(8) == "\\n");
  CHECK(t.bytes(9) == "\xe4\xbd\xa0");
  CHECK(t.bytes(10) == std::string("\0\n", 2));
  CHECK(t.bytes(11).empty());  // an id the file skips
  CHECK(t.bytes(12) == " ");
  std::remove(p.c_str());
}

TEST(world_file_errors_name_the_line) {
  struct Bad { const char* text; const char* needle; };
  const Bad bads[] = {
      {"1 'ab' 3\n", "length column"},
      {"1 'a'\n", "expected"},
      {"x 'a' 1\n", "bad token id"},
      {"0 'a' 1\n", "out of range"},
      {"1 'a' 1\n1 'b' 1\n", "appears twice"},
      {"1 'a 1\n", "unterminated"},
      {"1 a 1\n", "literal"},
      {"1 '\\x4' 1\n", "hex"},
      {"1 '\\ud83d' 3\n", "surrogate"},
      {"1 'a'x 1\n", "after the literal"},
      {"1 '' 0\n", "empty token"},
      {"1 'a' -1\n", "byte length"},
      {"\n\n", "no tokens"},
  };
  for (const Bad& b : bads) {
    std::string msg;
    CHECK_MSG(status_of([&] { parse_world_vocab(b.text, "v.txt"); }, &msg) == RWKVX_ERR_FORMAT, "'%s' was accepted", b.text);
    CHECK_MSG(msg.find(b.needle) != std::string::npos, "'%s': message '%s' lacks '%s'", b.text, msg.c_str(), b.needle);
  }
  std::string msg;
  status_of([] { parse_world_vocab("1 'a' 1\n2 'bc' 5\n", "v.txt"); }, &msg);
  CHECK(msg.find("v.txt:2") != std::string::npos);
  CHECK(status_of([] { Tokenizer t; t.build_from_world_file("/nonexistent/vocab.txt"); }) == RWKVX_ERR_IO);
}

TEST(greedy_longest_match_small_vocab) {
  Tokenizer t;
  // ids: 0 eod, then single bytes for a..e, "ab", "abcd", "bc" and a duplicate of "ab".
  t.build({"", "a", "b", "c", "d", "e", "ab", "abcd", "bc", "ab", ""});
  CHECK((t.encode("abcde", 5) == std::vector<int32_t>{7, 5}));
  CHECK((t.encode("abce", 4) == std::vector<int32_t>{6, 3, 5}));  // "abc" is no token: fall back to "ab"
  CHECK((t.encode("bcab", 4) == std::vector<int32_t>{8, 6}));      // the lower id wins among duplicates
  CHECK(t.encode("", 0).empty());
  // A byte without any token fails clearly instead of crashing or looping.
  std::string msg;
  CHECK(status_of([&] { t.encode("abz", 3); }, &msg) == RWKVX_ERR_INVALID_ARGUMENT);
  CHECK(msg.find("0x7a") != std::string::npos && msg.find("offset 2") != std::string::npos);
  Tokenizer empty;
  CHECK(status_of([&] { empty.encode("a", 1); }) == RWKVX_ERR_INVALID_ARGUMENT);
  CHECK(empty.encode("", 0).empty());
}

TEST(build_from_escaped_llama_cpp_list) {
  Tokenizer t;
  t.build_from_escaped({"<s>", "\\x00", "a", "\\n\\n", "it's", "[PAD5]", "[PAD5]", "\\xe4\\xbd\\xa0"});
  CHECK(t.n_vocab() == 8);
  CHECK(t.bytes(0).empty());
  CHECK(t.bytes(1) == std::string(1, '\0'));
  CHECK(t.bytes(3) == "\n\n");
  CHECK(t.bytes(4) == "it's");
  CHECK(t.bytes(5).empty());          // "[PAD5]" at id 5 is padding
  CHECK(t.bytes(6) == "[PAD5]");      // elsewhere it is text
  CHECK(t.bytes(7) == "\xe4\xbd\xa0");
  CHECK((t.encode("a\n\n", 3) == std::vector<int32_t>{2, 3}));
  std::string msg;
  CHECK(status_of([] { Tokenizer u; u.build_from_escaped({"<s>", "\\q"}); }, &msg) == RWKVX_ERR_FORMAT);
  CHECK(msg.find("token 1") != std::string::npos);
}

TEST(world_vocab_shape) {
  if (skip_without_world()) return;
  const Tokenizer& t = *world();
  CHECK(t.n_vocab() == 65530);
  for (int b = 0; b < 256; ++b) CHECK(t.bytes(b + 1) == std::string(1, static_cast<char>(b)));
  CHECK(t.bytes(257) == "\t\t");
  CHECK(t.bytes(261) == "\n\n");
  CHECK(t.bytes(263) == "\r\n");
  CHECK(t.bytes(65529) == std::string(128, ' '));
  CHECK(t.bytes(9804) == "\xe2\x80\x82");
}

TEST(world_goldens) {
  if (skip_without_world()) return;
  check_goldens(*world(), testing::fixture("tokenizer/world-goldens.json"));
}

TEST(tiny_vocab_goldens) {
  if (!testing::file_exists(kTiny)) {
    std::printf("  skipped: %s not found\n", kTiny.c_str());
    return;
  }
  Tokenizer t;
  t.build_from_world_file(kTiny);
  check_goldens(t, testing::fixture("tokenizer/tiny-goldens.json"));
}

TEST(world_known_strings) {
  if (skip_without_world()) return;
  const Tokenizer& t = *world();
  auto enc = [&](const std::string& s) { return t.encode(s.data(), s.size()); };
  CHECK((enc("\n\n") == std::vector<int32_t>{261}));
  CHECK((enc("\r\n") == std::vector<int32_t>{263}));
  CHECK((enc(std::string(128, ' ')) == std::vector<int32_t>{65529}));
  CHECK((enc(std::string(130, ' ')) == std::vector<int32_t>{65529, 267}));
  // Every token's own bytes encode to a sequence that decodes back; most to itself.
  int self = 0;
  for (int id = 1; id < t.n_vocab(); ++id) {
    const std::string& b = t.bytes(id);
    const std::vector<int32_t> ids = t.encode(b.data(), b.size());
    CHECK(decode(t, ids) == b);
    self += ids.size() == 1 && ids[0] == id;
  }
  std::printf("  %d of %d tokens encode to themselves\n", self, t.n_vocab() - 1);
  CHECK(self > t.n_vocab() * 9 / 10);
}

TEST(world_round_trip_bytes) {
  if (skip_without_world()) return;
  const Tokenizer& t = *world();
  std::mt19937 rng(99);
  const std::vector<std::string> samples = {
      "\xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xe2\x9d\xa4\xef\xb8\x8f emoji \xf0\x9f\x87\xaf\xf0\x9f\x87\xb5",
      "line\r\nline\r\n\r\n", std::string(1000, ' ') + "x" + std::string(777, '\t'), "\xff\xfe\x00\x80\xc0\xaf\xed\xa0\x80",
      std::string("a\0b", 3), "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c",
  };
  for (const std::string& s : samples) CHECK(decode(t, t.encode(s.data(), s.size())) == s);
  for (int i = 0; i < 3000; ++i) {
    std::string s(rng() % 64, '\0');
    const int mode = static_cast<int>(rng() % 3);
    for (char& c : s) {
      if (mode == 0) c = static_cast<char>(rng());                  // any bytes
      else if (mode == 1) c = static_cast<char>(0x20 + rng() % 95); // printable ASCII
      else c = " \n\t\r{}()ae\xe4\xbd\xa0"[rng() % 14];               // whitespace-heavy, split UTF-8
    }
    const std::vector<int32_t> ids = t.encode(s.data(), s.size());
    CHECK(decode(t, ids) == s);
    for (int32_t id : ids) CHECK(id > 0 && id < t.n_vocab());
  }
}

TEST(world_encode_one_megabyte) {
  if (skip_without_world()) return;
  const Tokenizer& t = *world();
  std::string text;
  std::mt19937 rng(5);
  const char* words[] = {"function ", "return ", "const x = ", "{\n", "}\n", "    ", "// comment\n", "\xe4\xbd\xa0\xe5\xa5\xbd ", "if (a < b) ", "\r\n"};
  while (text.size() < (1u << 20)) text += words[rng() % 10];
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = t.encode(text.data(), text.size());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  1 MiB → %zu tokens in %.1f ms (information only)\n", ids.size(), ms);
  CHECK(decode(t, ids) == text);
}

TEST(utf8_stream_split_characters) {
  const std::string text = "a\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x98\x80z";  // 1-, 2-, 3-, 4-byte characters
  // Byte by byte: each character appears exactly when its last byte arrives.
  Utf8Stream s;
  std::string out;
  std::vector<size_t> emitted_at;
  for (size_t i = 0; i < text.size(); ++i) {
    const std::string piece = s.push(text.substr(i, 1));
    if (!piece.empty()) emitted_at.push_back(i);
    out += piece;
  }
  out += s.flush();
  CHECK(out == text);
  CHECK((emitted_at == std::vector<size_t>{0, 2, 5, 9, 10}));
  // Every split into two pieces gives the same text.
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Utf8Stream u;
    std::string o = u.push(text.substr(0, cut));
    CHECK(valid_utf8(o));
    o += u.push(text.substr(cut));
    o += u.flush();
    CHECK(o == text);
  }
}

TEST(utf8_stream_invalid_sequences) {
  const std::string R = "\xef\xbf\xbd";
  struct Case { std::string in, out; };
  const Case cases[] = {
      {"\xff", R},
      {"\x80", R},
      {"\xc0\xaf", R + R},                 // overlong lead byte, stray continuation
      {"\xed\xa0\x80", R + R + R},         // surrogate: ED then two stray continuations
      {"\xe4\xb8" "A", R + "A"},           // truncated 3-byte sequence followed by ASCII
      {"\xf0\x9f\x98" "\xf0\x9f\x98\x80", R + "\xf0\x9f\x98\x80"},
      {"\xf4\x90\x80\x80", R + R + R + R}, // above U+10FFFF
      {"\xe0\x80\x80", R + R + R},         // overlong 3-byte
      {"a\xc3", "a" + R},                  // incomplete tail: replaced at flush
  };
  for (const Case& c : cases) {
    Utf8Stream s;
    std::string got = s.push(c.in);
    got += s.flush();  // (not one expression: the order of evaluation of + is unspecified)
    CHECK_MSG(got == c.out, "input of %zu bytes", c.in.size());
  }
  // The replacement comes as soon as the sequence is known to be invalid.
  Utf8Stream s;
  CHECK(s.push("\xe4").empty());
  CHECK(s.push("\xbd").empty());
  CHECK(s.push("A") == R + "A");
  CHECK(s.push("\xf0").empty());
  CHECK(s.push("\x28") == R + "(");
  CHECK(s.flush().empty());
  CHECK(s.push("\xc3").empty());
  CHECK(s.flush() == R);
  CHECK(s.flush().empty());  // reset after flush
}

TEST(utf8_stream_random_split_invariance) {
  std::mt19937 rng(11);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string in(rng() % 40, '\0');
    for (char& c : in) c = static_cast<char>((rng() & 1) ? rng() : 0x80 + rng() % 0x48);
    Utf8Stream whole;
    std::string ref = whole.push(in);
    ref += whole.flush();
    CHECK(valid_utf8(ref));
    Utf8Stream parts;
    std::string got;
    size_t at = 0;
    while (at < in.size()) {
      const size_t n = 1 + rng() % 4;
      const std::string piece = parts.push(in.substr(at, n));
      CHECK(valid_utf8(piece));
      got += piece;
      at += n;
    }
    got += parts.flush();
    CHECK(got == ref);
    if (valid_utf8(in)) CHECK(ref == in);
  }
}

TEST_MAIN

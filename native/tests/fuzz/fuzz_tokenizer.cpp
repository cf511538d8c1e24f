// libFuzzer target: the World vocabulary parser, llama.cpp token escapes, the
// trie tokenizer and the streaming UTF-8 decoder. Besides memory safety it
// checks the properties the engine relies on and traps when one fails:
// unescape(escape(x)) == x, decode(encode(x)) == x, UTF-8 output is always
// valid and does not depend on how the bytes were split.
#include <cstring>
#include <string>
#include <vector>

#include "error.h"
#include "tokenizer.h"

using namespace rwkvx;

namespace {

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
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

void require(bool ok) {
  if (!ok) __builtin_trap();
}

std::string decode(const Tokenizer& t, const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    require(id > 0 && id < t.n_vocab() && !t.bytes(id).empty());
    s += t.bytes(id);
  }
  return s;
}

// A tokenizer with every single byte plus tokens cut from the input: encoding
// must never fail and must round-trip.
void check_encode(const std::string& in) {
  std::vector<std::string> toks(1);
  for (int b = 0; b < 256; ++b) toks.push_back(std::string(1, static_cast<char>(b)));
  for (size_t at = 0; at + 1 < in.size() && toks.size() < 600; at += 3) toks.push_back(in.substr(at, 2 + static_cast<unsigned char>(in[at]) % 7));
  Tokenizer t;
  t.build(toks);
  require(decode(t, t.encode(in.data(), in.size())) == in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 5;
  const std::string in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (mode) {
    case 0: {  // World vocabulary text; whatever parses must tokenize its own tokens
      try {
        Tokenizer t;
        t.build(parse_world_vocab(in, "fuzz"));
        for (int id = 1; id < t.n_vocab() && id < 64; ++id) {
          const std::string& b = t.bytes(id);
          if (b.empty()) continue;
          require(decode(t, t.encode(b.data(), b.size())) == b);
        }
      } catch (const Error&) {
      }
      break;
    }
    case 1: {  // a GGUF token list (one escaped token per line)
      std::vector<std::string> list = {"<s>"};
      size_t at = 0;
      while (at <= in.size() && list.size() < 2000) {
        size_t nl = in.find('\n', at);
        if (nl == std::string::npos) nl = in.size();
        list.push_back(in.substr(at, nl - at));
        at = nl + 1;
      }
      try {
        Tokenizer t;
        t.build_from_escaped(list);
        try {
          const std::vector<int32_t> ids = t.encode(in.data(), in.size());
          require(decode(t, ids) == in);
        } catch (const Error&) {  // bytes without a token
        }
      } catch (const Error&) {
      }
      break;
    }
    case 2: {  // escapes
      require(unescape_token_bytes(escape_token_bytes(in)) == in);
      try {
        const std::string raw = unescape_token_bytes(in);
        require(unescape_token_bytes(escape_token_bytes(raw)) == raw);
      } catch (const Error&) {
      }
      break;
    }
    case 3: {  // UTF-8 stream: split invariance and validity
      Utf8Stream whole;
      std::string ref = whole.push(in);
      ref += whole.flush();
      require(valid_utf8(ref));
      if (valid_utf8(in)) require(ref == in);
      Utf8Stream parts;
      std::string got;
      size_t at = 0, k = 0;
      while (at < in.size()) {
        const size_t n = 1 + static_cast<size_t>(data[k++ % size]) % 5;
        const std::string piece = parts.push(in.substr(at, n));
        require(valid_utf8(piece));
        got += piece;
        at += n;
      }
      got += parts.flush();
      require(got == ref);
      break;
    }
    default:
      check_encode(in);
      break;
  }
  return 0;
}

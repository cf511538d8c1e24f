// RWKV World tokenizer (greedy longest match on a compact byte trie), the
// token-text escapes llama.cpp uses in GGUF, the World vocabulary file parser
// and a streaming UTF-8 validator for detokenized output.
#include "tokenizer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

#include "error.h"

namespace rwkvx {

// ----------------------------------------------------------------- trie

int32_t Tokenizer::child(int32_t node, uint8_t b) const {
  const uint32_t lo = first_[static_cast<size_t>(node)];
  const uint32_t n = count_[static_cast<size_t>(node)];
  const uint8_t* bytes = edge_byte_.data() + lo;
  if (n <= 8) {
    for (uint32_t k = 0; k < n; ++k) {
      if (bytes[k] == b) return edge_node_[lo + k];
      if (bytes[k] > b) return 0;
    }
    return 0;
  }
  const uint8_t* it = std::lower_bound(bytes, bytes + n, b);
  if (it == bytes + n || *it != b) return 0;
  return edge_node_[lo + static_cast<uint32_t>(it - bytes)];
}

void Tokenizer::build(std::vector<std::string> token_bytes) {
  if (token_bytes.size() > static_cast<size_t>(INT32_MAX)) fail(RWKVX_ERR_INVALID_ARGUMENT, "vocabulary too large");
  tokens_ = std::move(token_bytes);
  if (!tokens_.empty()) tokens_[0].clear();  // end-of-document has no bytes

  // Sort the ids by their bytes (ties: lowest id first, it wins); empty
  // entries (id 0, padding) never enter the trie.
  std::vector<int32_t> ids;
  ids.reserve(tokens_.size());
  for (size_t i = 1; i < tokens_.size(); ++i) {
    if (!tokens_[i].empty()) ids.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return tokens_[a] < tokens_[b]; });

  root_.assign(256, 0);
  first_.assign(1, 0);
  count_.assign(1, 0);
  value_.assign(1, -1);
  edge_byte_.clear();
  edge_node_.clear();

  // Breadth-first over ranges of the sorted ids that share a prefix, so each
  // node's children are created as one contiguous run of edges.
  struct Item { int32_t node; size_t lo, hi, depth; };
  std::vector<Item> queue;
  queue.push_back({0, 0, ids.size(), 0});
  for (size_t qi = 0; qi < queue.size(); ++qi) {
    const Item it = queue[qi];
    size_t lo = it.lo;
    // The id whose bytes end exactly here sorts first in the range.
    if (it.depth > 0 && tokens_[ids[lo]].size() == it.depth) {
      value_[static_cast<size_t>(it.node)] = ids[lo];
      while (lo < it.hi && tokens_[ids[lo]].size() == it.depth) ++lo;  // later duplicates are dropped
    }
    if (it.node != 0) first_[static_cast<size_t>(it.node)] = static_cast<uint32_t>(edge_byte_.size());
    uint32_t n_children = 0;
    while (lo < it.hi) {
      const uint8_t b = static_cast<uint8_t>(tokens_[ids[lo]][it.depth]);
      size_t end = lo + 1;
      while (end < it.hi && static_cast<uint8_t>(tokens_[ids[end]][it.depth]) == b) ++end;
      const int32_t node = static_cast<int32_t>(value_.size());
      first_.push_back(0);
      count_.push_back(0);
      value_.push_back(-1);
      if (it.node == 0) {
        root_[b] = node;
      } else {
        edge_byte_.push_back(b);
        edge_node_.push_back(node);
        ++n_children;
      }
      queue.push_back({node, lo, end, it.depth + 1});
      lo = end;
    }
    count_[static_cast<size_t>(it.node)] = static_cast<uint16_t>(n_children);  // at most 256 children: fits
  }
}

std::vector<int32_t> Tokenizer::encode(const char* data, size_t len) const {
  std::vector<int32_t> out;
  if (len == 0) return out;
  if (root_.empty()) fail(RWKVX_ERR_INVALID_ARGUMENT, "tokenizer has no vocabulary");
  out.reserve(len / 3 + 1);
  const uint8_t* s = reinterpret_cast<const uint8_t*>(data);
  size_t pos = 0;
  while (pos < len) {
    int32_t node = root_[s[pos]];
    int32_t best = -1;
    size_t best_len = 0;
    size_t depth = 1;
    while (node != 0) {
      const int32_t v = value_[static_cast<size_t>(node)];
      if (v >= 0) {
        best = v;
        best_len = depth;
      }
      if (pos + depth >= len) break;
      node = child(node, s[pos + depth]);
      ++depth;
    }
    if (best < 0) {
      fail(RWKVX_ERR_INVALID_ARGUMENT, "cannot tokenize byte 0x%02x at offset %zu: no token in this vocabulary starts with it",
           s[pos], pos);
    }
    out.push_back(best);
    pos += best_len;
  }
  return out;
}

// -------------------------------------------------------------- escapes

std::string escape_token_bytes(const std::string& raw) {
  // Python's bytes repr picks double quotes when the bytes contain ' but no ",
  // and then leaves ' unescaped; otherwise it uses ' and escapes it. It never
  // escapes ".
  const bool dq = raw.find('\'') != std::string::npos && raw.find('"') == std::string::npos;
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() + 8);
  for (unsigned char c : raw) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\'':
        if (dq) out += '\'';
        else out += "\\'";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += "\\x";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Reads `n` hex digits at s[i..]; -1 if any is missing or not hex.
int64_t read_hex(const std::string& s, size_t i, int n) {
  if (i + static_cast<size_t>(n) > s.size()) return -1;
  int64_t v = 0;
  for (int k = 0; k < n; ++k) {
    const int d = hex_digit(s[i + static_cast<size_t>(k)]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

std::string unescape_token_bytes(const std::string& escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i + 1 >= escaped.size()) fail(RWKVX_ERR_FORMAT, "token text '%s' ends with a lone backslash", escaped.c_str());
    const char e = escaped[++i];
    switch (e) {
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'x': {
        const int64_t v = read_hex(escaped, i + 1, 2);
        if (v < 0) fail(RWKVX_ERR_FORMAT, "token text '%s': \\x needs two hex digits", escaped.c_str());
        out += static_cast<char>(v);
        i += 2;
        break;
      }
      default:
        fail(RWKVX_ERR_FORMAT, "token text '%s': unknown escape \\%c", escaped.c_str(), e);
    }
  }
  return out;
}

// ----------------------------------------------------- vocabulary loaders

namespace {

bool is_pad_name(const std::string& s, size_t id) {
  // llama.cpp pads with "[PAD<id>]"; only that exact form counts as padding.
  return s == "[PAD" + std::to_string(id) + "]";
}

// Parses a Python str or bytes literal starting at s[pos] ('..', "..", b'..',
// b".."); appends the bytes it denotes (str: code points as UTF-8) to out and
// returns the index after the closing quote. `where` prefixes error messages.
size_t parse_py_literal(const std::string& s, size_t pos, std::string& out, const std::string& where) {
  bool bytes = false;
  if (pos < s.size() && (s[pos] == 'b' || s[pos] == 'B')) {
    bytes = true;
    ++pos;
  }
  if (pos >= s.size() || (s[pos] != '\'' && s[pos] != '"')) {
    fail(RWKVX_ERR_FORMAT, "%s: expected a Python string or bytes literal", where.c_str());
  }
  const char q = s[pos++];
  while (true) {
    if (pos >= s.size()) fail(RWKVX_ERR_FORMAT, "%s: unterminated literal", where.c_str());
    const char c = s[pos];
    if (c == q) return pos + 1;
    if (c != '\\') {
      if (bytes && static_cast<unsigned char>(c) >= 0x80) {
        fail(RWKVX_ERR_FORMAT, "%s: non-ASCII character in a bytes literal", where.c_str());
      }
      out += c;  // str literals carry their text as UTF-8 already
      ++pos;
      continue;
    }
    if (pos + 1 >= s.size()) fail(RWKVX_ERR_FORMAT, "%s: unterminated escape", where.c_str());
    const char e = s[pos + 1];
    pos += 2;
    switch (e) {
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
        uint32_t v = static_cast<uint32_t>(e - '0');
        for (int k = 0; k < 2 && pos < s.size() && s[pos] >= '0' && s[pos] <= '7'; ++k) v = v * 8 + static_cast<uint32_t>(s[pos++] - '0');
        if (bytes) {
          out += static_cast<char>(v & 0xff);
        } else {
          append_utf8(out, v);
        }
        break;
      }
      case 'x': {
        const int64_t v = read_hex(s, pos, 2);
        if (v < 0) fail(RWKVX_ERR_FORMAT, "%s: \\x needs two hex digits", where.c_str());
        pos += 2;
        if (bytes) out += static_cast<char>(v);   // a raw byte
        else append_utf8(out, static_cast<uint32_t>(v));  // code point U+00NN
        break;
      }
      case 'u':
      case 'U': {
        if (bytes) {  // not an escape in bytes literals: kept verbatim
          out += '\\';
          out += e;
          break;
        }
        const int n = e == 'u' ? 4 : 8;
        const int64_t v = read_hex(s, pos, n);
        if (v < 0) fail(RWKVX_ERR_FORMAT, "%s: \\%c needs %d hex digits", where.c_str(), e, n);
        if (v > 0x10ffff) fail(RWKVX_ERR_FORMAT, "%s: code point U+%llX out of range", where.c_str(), static_cast<unsigned long long>(v));
        if (v >= 0xd800 && v <= 0xdfff) {
          // Python cannot encode a lone surrogate as UTF-8 either.
          fail(RWKVX_ERR_FORMAT, "%s: surrogate code point U+%04llX cannot be encoded as UTF-8", where.c_str(),
               static_cast<unsigned long long>(v));
        }
        pos += static_cast<size_t>(n);
        append_utf8(out, static_cast<uint32_t>(v));
        break;
      }
      case '\n':  // line continuation
        break;
      default:
        // Python keeps unknown escapes verbatim (with a warning).
        out += '\\';
        out += e;
        break;
    }
  }
}

}  // namespace

void Tokenizer::build_from_escaped(const std::vector<std::string>& escaped) {
  std::vector<std::string> raw(escaped.size());
  for (size_t i = 1; i < escaped.size(); ++i) {
    if (is_pad_name(escaped[i], i)) continue;
    try {
      raw[i] = unescape_token_bytes(escaped[i]);
    } catch (const Error& e) {
      fail(RWKVX_ERR_FORMAT, "token %zu: %s", i, e.what());
    }
  }
  build(std::move(raw));
}

std::vector<std::string> parse_world_vocab(const std::string& text, const std::string& origin) {
  std::vector<std::string> toks(1);
  std::vector<bool> seen(1, true);
  size_t lineno = 0;
  constexpr uint64_t kMaxId = 1u << 24;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(at, nl - at);
    at = nl + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = origin + ":" + std::to_string(lineno);
    // <id> <literal> <length>: the literal may contain spaces, so the id ends
    // at the first space and the length starts after the last one.
    const size_t sp1 = line.find(' ');
    const size_t sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) fail(RWKVX_ERR_FORMAT, "%s: expected '<id> <literal> <length>'", where.c_str());
    if (sp1 == 0 || line.find_first_not_of("0123456789") != sp1) fail(RWKVX_ERR_FORMAT, "%s: bad token id", where.c_str());
    errno = 0;
    const unsigned long long id = std::strtoull(line.c_str(), nullptr, 10);
    if (errno != 0 || id == 0 || id >= kMaxId) fail(RWKVX_ERR_FORMAT, "%s: token id out of range 1..%llu", where.c_str(),
                                                   static_cast<unsigned long long>(kMaxId - 1));
    const std::string len_text = line.substr(sp2 + 1);
    if (len_text.empty() || len_text.size() > 9 || len_text.find_first_not_of("0123456789") != std::string::npos) {
      fail(RWKVX_ERR_FORMAT, "%s: bad byte length", where.c_str());
    }
    const unsigned long long len = std::strtoull(len_text.c_str(), nullptr, 10);
    std::string bytes;
    const size_t after = parse_py_literal(line, sp1 + 1, bytes, where);
    if (after != sp2) fail(RWKVX_ERR_FORMAT, "%s: unexpected text after the literal", where.c_str());
    if (bytes.size() != len) {
      fail(RWKVX_ERR_FORMAT, "%s: token %llu has %zu bytes but the length column says %llu", where.c_str(), id, bytes.size(), len);
    }
    if (bytes.empty()) fail(RWKVX_ERR_FORMAT, "%s: empty token", where.c_str());
    if (id >= toks.size()) {
      toks.resize(id + 1);
      seen.resize(id + 1, false);
    }
    if (seen[id]) fail(RWKVX_ERR_FORMAT, "%s: token id %llu appears twice", where.c_str(), id);
    seen[id] = true;
    toks[id] = std::move(bytes);
  }
  if (toks.size() <= 1) fail(RWKVX_ERR_FORMAT, "vocabulary '%s' has no tokens", origin.c_str());
  return toks;
}

void Tokenizer::build_from_world_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(RWKVX_ERR_IO, "cannot open vocabulary '%s': %s", path.c_str(), std::strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) fail(RWKVX_ERR_IO, "cannot read vocabulary '%s'", path.c_str());
  build(parse_world_vocab(ss.str(), path));
}

// ---------------------------------------------------------- Utf8Stream

namespace {

const char kReplacement[] = "\xef\xbf\xbd";  // U+FFFD

// Length of the sequence a lead byte starts, 0 if it can never start one.
int utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return 2;
  if (c >= 0xe0 && c <= 0xef) return 3;
  if (c >= 0xf0 && c <= 0xf4) return 4;
  return 0;
}

// Whether b is a valid k-th byte (k >= 1) after lead byte c.
bool utf8_cont_ok(unsigned char c, int k, unsigned char b) {
  if (k == 1) {
    if (c == 0xe0) return b >= 0xa0 && b <= 0xbf;
    if (c == 0xed) return b >= 0x80 && b <= 0x9f;
    if (c == 0xf0) return b >= 0x90 && b <= 0xbf;
    if (c == 0xf4) return b >= 0x80 && b <= 0x8f;
  }
  return b >= 0x80 && b <= 0xbf;
}

}  // namespace

std::string Utf8Stream::push(const std::string& bytes) {
  pending_ += bytes;
  std::string out;
  out.reserve(pending_.size());
  const size_t n = pending_.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(pending_[i]);
    const int len = utf8_len(c);
    if (len == 1) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (len == 0) {  // stray continuation byte or a byte never valid in UTF-8
      out += kReplacement;
      ++i;
      continue;
    }
    // Check the continuation bytes we have; one U+FFFD replaces the maximal
    // valid prefix as soon as a byte breaks it (the breaking byte is re-read).
    int k = 1;
    while (k < len && i + static_cast<size_t>(k) < n && utf8_cont_ok(c, k, static_cast<unsigned char>(pending_[i + static_cast<size_t>(k)]))) ++k;
    if (k == len) {
      out.append(pending_, i, static_cast<size_t>(len));
      i += static_cast<size_t>(len);
    } else if (i + static_cast<size_t>(k) == n) {
      break;  // incomplete but still valid so far: hold it back
    } else {
      out += kReplacement;
      i += static_cast<size_t>(k);
    }
  }
  pending_.erase(0, i);
  return out;
}

std::string Utf8Stream::flush() {
  std::string out = push("");
  if (!pending_.empty()) out += kReplacement;  // an incomplete tail
  pending_.clear();
  return out;
}

}  // namespace rwkvx

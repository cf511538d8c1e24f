// safetensors reader (a file, or a folder of them plus config.json) and the
// small JSON parser its header needs.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "convert_source.h"
#include "error.h"

namespace rwkvx {

// ------------------------------------------------------------------ JSON

const Json* Json::get(const std::string& key) const {
  for (const auto& kv : obj) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

namespace {

class JsonParser {
 public:
  JsonParser(const char* s, size_t n, const std::string& origin) : s_(s), n_(n), origin_(origin) {}

  Json parse_document() {
    Json v = value(0);
    ws();
    if (pos_ != n_) bad("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void bad(const char* what) const {
    fail(RWKVX_ERR_FORMAT, "%s: bad JSON (%s at offset %zu)", origin_.c_str(), what, pos_);
  }
  void ws() {
    while (pos_ < n_ && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool lit(const char* w) {
    const size_t k = std::strlen(w);
    if (n_ - pos_ >= k && std::memcmp(s_ + pos_, w, k) == 0) {
      pos_ += k;
      return true;
    }
    return false;
  }
  Json value(int depth) {
    if (depth > 64) bad("nesting too deep");
    ws();
    if (pos_ >= n_) bad("unexpected end");
    Json v;
    const char c = s_[pos_];
    if (c == '{') {
      v.kind = Json::Obj;
      ++pos_;
      ws();
      if (pos_ < n_ && s_[pos_] == '}') { ++pos_; return v; }
      while (true) {
        ws();
        if (pos_ >= n_ || s_[pos_] != '"') bad("expected a key");
        std::string k = string();
        ws();
        if (pos_ >= n_ || s_[pos_] != ':') bad("expected ':'");
        ++pos_;
        v.obj.emplace_back(std::move(k), value(depth + 1));
        ws();
        if (pos_ < n_ && s_[pos_] == ',') { ++pos_; continue; }
        if (pos_ < n_ && s_[pos_] == '}') { ++pos_; return v; }
        bad("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.kind = Json::Arr;
      ++pos_;
      ws();
      if (pos_ < n_ && s_[pos_] == ']') { ++pos_; return v; }
      while (true) {
        v.arr.push_back(value(depth + 1));
        ws();
        if (pos_ < n_ && s_[pos_] == ',') { ++pos_; continue; }
        if (pos_ < n_ && s_[pos_] == ']') { ++pos_; return v; }
        bad("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = Json::Str;
      v.str = string();
      return v;
    }
    if (lit("true")) { v.kind = Json::Bool; v.b = true; return v; }
    if (lit("false")) { v.kind = Json::Bool; return v; }
    if (lit("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    bad("unexpected character");
  }
  Json number() {
    const size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    bool integer = true;
    while (pos_ < n_ && std::strchr("0123456789.eE+-", s_[pos_]) != nullptr) {
      if (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E') integer = false;
      ++pos_;
    }
    const std::string t(s_ + start, pos_ - start);
    Json v;
    v.kind = Json::Num;
    char* end = nullptr;
    v.num = std::strtod(t.c_str(), &end);
    if (t.empty() || *end != 0) bad("bad number");
    if (integer) {
      errno = 0;
      v.i = std::strtoll(t.c_str(), &end, 10);
      v.is_int = errno == 0 && *end == 0;
    }
    return v;
  }
  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) { out += static_cast<char>(0xc0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3f)); }
    else if (cp < 0x10000) { out += static_cast<char>(0xe0 | (cp >> 12)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f)); out += static_cast<char>(0x80 | (cp & 0x3f)); }
    else { out += static_cast<char>(0xf0 | (cp >> 18)); out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f)); out += static_cast<char>(0x80 | (cp & 0x3f)); }
  }
  uint32_t hex4() {
    if (n_ - pos_ < 4) bad("short \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else bad("bad \\u escape");
    }
    return v;
  }
  std::string string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= n_) bad("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (c != '\\') { out += c; continue; }
      if (pos_ >= n_) bad("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xd800 && cp <= 0xdbff && n_ - pos_ >= 6 && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
            pos_ += 2;
            const uint32_t lo = hex4();
            if (lo >= 0xdc00 && lo <= 0xdfff) cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            else { utf8(out, 0xfffd); cp = lo; }
          }
          if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
          utf8(out, cp);
          break;
        }
        default: bad("bad escape");
      }
    }
  }

  const char* s_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& origin_;
};

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

void read_one(Source& src, const std::string& path) {
  auto file = MappedFile::open(path);
  src.files.push_back(file);
  const uint8_t* d = file->data();
  const size_t n = file->size();
  if (n < 8) fail(RWKVX_ERR_FORMAT, "%s: too small to be a safetensors file", path.c_str());
  uint64_t hlen;
  std::memcpy(&hlen, d, 8);
  if (hlen > n - 8 || hlen > (100u << 20)) {
    fail(RWKVX_ERR_FORMAT, "%s: safetensors header length %llu is out of range (file has %zu bytes)", path.c_str(),
         static_cast<unsigned long long>(hlen), n);
  }
  const Json h = json_parse(reinterpret_cast<const char*>(d + 8), static_cast<size_t>(hlen), path);
  if (h.kind != Json::Obj) fail(RWKVX_ERR_FORMAT, "%s: safetensors header is not a JSON object", path.c_str());
  const uint8_t* base = d + 8 + hlen;
  const uint64_t data_size = n - 8 - hlen;
  for (const auto& kv : h.obj) {
    if (kv.first == "__metadata__") continue;
    const Json& e = kv.second;
    const Json* dt = e.get("dtype");
    const Json* shape = e.get("shape");
    const Json* offs = e.get("data_offsets");
    if (e.kind != Json::Obj || !dt || dt->kind != Json::Str || !shape || shape->kind != Json::Arr || !offs ||
        offs->kind != Json::Arr || offs->arr.size() != 2) {
      fail(RWKVX_ERR_FORMAT, "%s: bad header entry for '%s'", path.c_str(), kv.first.c_str());
    }
    SrcTensor t;
    t.name = kv.first;
    t.type_name = dt->str;
    if (dt->str == "F32") t.type = SrcType::F32;
    else if (dt->str == "F16") t.type = SrcType::F16;
    else if (dt->str == "BF16") t.type = SrcType::BF16;
    else if (dt->str == "F64") t.type = SrcType::F64;
    else t.type = SrcType::Other;
    int64_t numel = 1;
    for (const Json& s : shape->arr) {
      if (s.kind != Json::Num || !s.is_int || s.i < 0 || __builtin_mul_overflow(numel, s.i, &numel)) {
        fail(RWKVX_ERR_FORMAT, "%s: bad shape for '%s'", path.c_str(), kv.first.c_str());
      }
      t.shape.push_back(s.i);
    }
    t.stride.assign(t.shape.size(), 1);
    for (size_t k = t.shape.size(); k-- > 1;) t.stride[k - 1] = t.stride[k] * t.shape[k];
    const Json& b = offs->arr[0];
    const Json& en = offs->arr[1];
    if (b.kind != Json::Num || en.kind != Json::Num || !b.is_int || !en.is_int || b.i < 0 || en.i < b.i ||
        static_cast<uint64_t>(en.i) > data_size) {
      fail(RWKVX_ERR_FORMAT, "%s: data of '%s' is out of range", path.c_str(), kv.first.c_str());
    }
    const size_t es = src_type_size(t.type);
    if (es != 0) {
      uint64_t want = 0;
      if (__builtin_mul_overflow(static_cast<uint64_t>(numel), es, &want) || want != static_cast<uint64_t>(en.i - b.i)) {
        fail(RWKVX_ERR_FORMAT, "%s: '%s' has %lld elements of %s but %lld data bytes", path.c_str(), kv.first.c_str(),
             static_cast<long long>(numel), dt->str.c_str(), static_cast<long long>(en.i - b.i));
      }
    }
    t.data = base + b.i;
    if (src.tensors.count(t.name)) fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' appears twice", path.c_str(), t.name.c_str());
    src.tensors.emplace(t.name, std::move(t));
  }
}

}  // namespace

Json json_parse(const char* text, size_t len, const std::string& origin) {
  return JsonParser(text, len, origin).parse_document();
}

Source read_safetensors(const std::string& path) {
  Source src;
  src.kind = "safetensors";
  if (!is_dir(path)) {
    read_one(src, path);
    return src;
  }
  // A folder: model.safetensors, or every *.safetensors shard, plus config.json.
  std::vector<std::string> files;
  if (DIR* dir = opendir(path.c_str())) {
    while (dirent* e = readdir(dir)) {
      const std::string nm = e->d_name;
      if (ends_with(nm, ".safetensors")) files.push_back(path + "/" + nm);
    }
    closedir(dir);
  } else {
    fail(RWKVX_ERR_IO, "cannot list folder '%s'", path.c_str());
  }
  if (files.empty()) fail(RWKVX_ERR_FORMAT, "folder '%s' holds no .safetensors file", path.c_str());
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) read_one(src, f);
  std::ifstream cfg(path + "/config.json", std::ios::binary);
  if (cfg) {
    std::stringstream ss;
    ss << cfg.rdbuf();
    src.config_json = ss.str();
  }
  return src;
}

}  // namespace rwkvx

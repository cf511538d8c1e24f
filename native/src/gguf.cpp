// GGUF v2/v3 reader and v3 writer. The reader validates every count, length
// and offset against the file size before using it, so a corrupt or hostile
// file produces an rwkvx::Error, never an out-of-bounds read.
#include "gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "error.h"

namespace rwkvx {

namespace {

constexpr uint32_t kMagic = 0x46554747u;  // "GGUF" little-endian
constexpr uint64_t kDefaultAlignment = 32;
constexpr int kMaxArrayDepth = 8;          // nested arrays deeper than this are rejected
constexpr uint64_t kMaxAlignment = 1u << 20;

const char* gguf_type_name(uint32_t t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                "string", "array", "u64", "i64", "f64"};
  return t < 13 ? names[t] : "unknown";
}

// Fixed byte size of a scalar GGUF type; 0 for string/array/unknown.
size_t scalar_size(uint32_t t) {
  switch (static_cast<GgufType>(t)) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

bool is_int_type(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64:
    case GgufType::BOOL: return true;
    default: return false;
  }
}

// ggml type ids we do not support, for a message that says what the file holds.
const char* ggml_type_name(uint32_t t) {
  switch (t) {
    case 2: return "Q4_0"; case 3: return "Q4_1"; case 6: return "Q5_0"; case 7: return "Q5_1";
    case 9: return "Q8_1"; case 10: return "Q2_K"; case 11: return "Q3_K"; case 12: return "Q4_K";
    case 13: return "Q5_K"; case 14: return "Q6_K"; case 15: return "Q8_K"; case 16: return "IQ2_XXS";
    case 17: return "IQ2_XS"; case 18: return "IQ3_XXS"; case 19: return "IQ1_S"; case 20: return "IQ4_NL";
    case 21: return "IQ3_S"; case 22: return "IQ2_S"; case 23: return "IQ4_XS"; case 24: return "I8";
    case 25: return "I16"; case 26: return "I32"; case 27: return "I64"; case 28: return "F64";
    case 29: return "IQ1_M"; case 34: return "TQ1_0"; case 35: return "TQ2_0";
    default: return "unknown";
  }
}

// Bounds-checked little-endian reader over the file bytes.
struct Cursor {
  const uint8_t* p;
  size_t size;
  size_t pos;
  const std::string& origin;

  size_t left() const { return size - pos; }
  void need(uint64_t n, const char* what) const {
    if (n > left()) {
      fail(RWKVX_ERR_FORMAT, "%s: truncated GGUF: %s at offset %zu needs %llu bytes, only %zu left",
           origin.c_str(), what, pos, static_cast<unsigned long long>(n), left());
    }
  }
  template <class T>
  T rd(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const uint64_t n = rd<uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p + pos), static_cast<size_t>(n));
    pos += static_cast<size_t>(n);
    return s;
  }
};

// Reads one scalar of type t into v (widened).
void read_scalar(Cursor& c, GgufType t, GgufValue& v, const char* what) {
  switch (t) {
    case GgufType::U8: v.u = c.rd<uint8_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GgufType::I8: v.i = c.rd<int8_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GgufType::U16: v.u = c.rd<uint16_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GgufType::I16: v.i = c.rd<int16_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GgufType::U32: v.u = c.rd<uint32_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GgufType::I32: v.i = c.rd<int32_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GgufType::U64: v.u = c.rd<uint64_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GgufType::I64: v.i = c.rd<int64_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GgufType::BOOL: v.u = c.rd<uint8_t>(what) != 0; v.i = static_cast<int64_t>(v.u); break;
    case GgufType::F32: v.f = c.rd<float>(what); break;
    case GgufType::F64: v.f = c.rd<double>(what); break;
    default: break;
  }
  if (t != GgufType::F32 && t != GgufType::F64) v.f = static_cast<double>(v.i);
}

// Reads an array body (element type + count + elements). Nested arrays are
// validated and skipped (their contents are not kept).
void read_array(Cursor& c, GgufValue& v, const std::string& key, int depth, bool keep) {
  if (depth > kMaxArrayDepth) {
    fail(RWKVX_ERR_FORMAT, "%s: metadata '%s': arrays nested deeper than %d", c.origin.c_str(), key.c_str(), kMaxArrayDepth);
  }
  const uint32_t et = c.rd<uint32_t>("array element type");
  const uint64_t n = c.rd<uint64_t>("array length");
  if (et > static_cast<uint32_t>(GgufType::F64)) {
    fail(RWKVX_ERR_FORMAT, "%s: metadata '%s': unknown array element type %u", c.origin.c_str(), key.c_str(), et);
  }
  const GgufType t = static_cast<GgufType>(et);
  v.elem_type = t;
  v.arr_len = static_cast<size_t>(n);
  // Minimal bytes per element, checked before any allocation.
  const size_t min_el = t == GgufType::STRING ? 8 : t == GgufType::ARRAY ? 12 : scalar_size(et);
  if (n > c.left() / min_el) {
    fail(RWKVX_ERR_FORMAT, "%s: metadata '%s': array of %llu %s elements runs past the end of the file",
         c.origin.c_str(), key.c_str(), static_cast<unsigned long long>(n), gguf_type_name(et));
  }
  if (t == GgufType::STRING) {
    if (keep) v.arr_str.reserve(static_cast<size_t>(n));
    for (uint64_t k = 0; k < n; ++k) {
      std::string s = c.str("array string");
      if (keep) v.arr_str.push_back(std::move(s));
    }
  } else if (t == GgufType::ARRAY) {
    for (uint64_t k = 0; k < n; ++k) {
      GgufValue inner;
      read_array(c, inner, key, depth + 1, false);
    }
  } else if (t == GgufType::F32 || t == GgufType::F64) {
    if (keep) v.arr_f.reserve(static_cast<size_t>(n));
    for (uint64_t k = 0; k < n; ++k) {
      GgufValue e;
      read_scalar(c, t, e, "array element");
      if (keep) v.arr_f.push_back(e.f);
    }
  } else {
    if (keep) v.arr_i.reserve(static_cast<size_t>(n));
    for (uint64_t k = 0; k < n; ++k) {
      GgufValue e;
      read_scalar(c, t, e, "array element");
      if (keep) v.arr_i.push_back(e.i);
    }
  }
}

bool mul_overflow_u64(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

}  // namespace

// ------------------------------------------------------------------ reader

std::shared_ptr<GgufReader> GgufReader::open(const std::string& path, bool use_mmap) {
  std::shared_ptr<GgufReader> r(new GgufReader());
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(RWKVX_ERR_IO, "cannot open '%s': %s", path.c_str(), std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail(RWKVX_ERR_IO, "cannot stat '%s': %s", path.c_str(), std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(RWKVX_ERR_IO, "'%s' is not a regular file", path.c_str());
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    fail(RWKVX_ERR_FORMAT, "'%s' is empty, not a GGUF file", path.c_str());
  }
  if (use_mmap) {
    void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);
    if (m == MAP_FAILED) fail(RWKVX_ERR_IO, "cannot map '%s': %s", path.c_str(), std::strerror(e));
    r->map_ = m;
    r->base_ = static_cast<const uint8_t*>(m);
  } else {
    try {
      r->own(size);
    } catch (const std::bad_alloc&) {
      ::close(fd);
      fail(RWKVX_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes to read '%s'", size, path.c_str());
    }
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::read(fd, r->owned_.get() + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int e = errno;
        ::close(fd);
        fail(RWKVX_ERR_IO, "cannot read '%s': %s", path.c_str(), n == 0 ? "unexpected end of file" : std::strerror(e));
      }
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    r->base_ = r->owned_.get();
  }
  r->size_ = size;
  r->parse(path);
  return r;
}

std::shared_ptr<GgufReader> GgufReader::from_memory(const uint8_t* data, size_t size) {
  std::shared_ptr<GgufReader> r(new GgufReader());
  r->own(size);
  if (size != 0) std::memcpy(r->owned_.get(), data, size);
  r->base_ = r->owned_.get();
  r->size_ = size;
  r->parse("<memory>");
  return r;
}

void GgufReader::own(size_t size) {
  const size_t rounded = (size + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (p == nullptr) throw std::bad_alloc();
  owned_.reset(static_cast<uint8_t*>(p));
}

GgufReader::~GgufReader() {
  if (map_ != nullptr) munmap(map_, size_);
}

void GgufReader::parse(const std::string& origin) {
  Cursor c{base_, size_, 0, origin};
  if (size_ < 4) fail(RWKVX_ERR_FORMAT, "%s: not a GGUF file (only %zu bytes)", origin.c_str(), size_);
  const uint32_t magic = c.rd<uint32_t>("magic");
  if (magic != kMagic) {
    fail(RWKVX_ERR_FORMAT, "%s: not a GGUF file (magic %02x %02x %02x %02x, expected 'GGUF')", origin.c_str(),
         base_[0], base_[1], base_[2], base_[3]);
  }
  version_ = c.rd<uint32_t>("version");
  if (version_ == 1) fail(RWKVX_ERR_UNSUPPORTED, "%s: GGUF version 1 is not supported (need 2 or 3)", origin.c_str());
  if (version_ != 2 && version_ != 3) {
    const uint32_t swapped = __builtin_bswap32(version_);
    if (swapped == 2 || swapped == 3) {
      fail(RWKVX_ERR_UNSUPPORTED, "%s: big-endian GGUF is not supported", origin.c_str());
    }
    fail(RWKVX_ERR_UNSUPPORTED, "%s: unsupported GGUF version %u (need 2 or 3)", origin.c_str(), version_);
  }
  const uint64_t n_tensors = c.rd<uint64_t>("tensor count");
  const uint64_t n_kv = c.rd<uint64_t>("metadata count");
  // Each KV takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.left() / 13) {
    fail(RWKVX_ERR_FORMAT, "%s: metadata count %llu cannot fit in the file", origin.c_str(), static_cast<unsigned long long>(n_kv));
  }
  if (n_tensors > c.left() / 32) {
    fail(RWKVX_ERR_FORMAT, "%s: tensor count %llu cannot fit in the file", origin.c_str(), static_cast<unsigned long long>(n_tensors));
  }

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.str("metadata key");
    const uint32_t t = c.rd<uint32_t>("metadata value type");
    if (t > static_cast<uint32_t>(GgufType::F64)) {
      fail(RWKVX_ERR_FORMAT, "%s: metadata '%s' has unknown value type %u", origin.c_str(), key.c_str(), t);
    }
    GgufValue v;
    v.type = static_cast<GgufType>(t);
    if (v.type == GgufType::STRING) {
      v.str = c.str("metadata string");
    } else if (v.type == GgufType::ARRAY) {
      read_array(c, v, key, 0, true);
    } else {
      read_scalar(c, v.type, v, "metadata value");
    }
    if (kv_.count(key) != 0) fail(RWKVX_ERR_FORMAT, "%s: duplicate metadata key '%s'", origin.c_str(), key.c_str());
    kv_.emplace(std::move(key), std::move(v));
  }

  uint64_t alignment = kDefaultAlignment;
  if (const GgufValue* a = get("general.alignment")) {
    if (!is_int_type(a->type) || a->type == GgufType::BOOL) {
      fail(RWKVX_ERR_FORMAT, "%s: general.alignment has type %s, expected an integer", origin.c_str(),
           gguf_type_name(static_cast<uint32_t>(a->type)));
    }
    alignment = a->u;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > kMaxAlignment) {
      fail(RWKVX_ERR_FORMAT, "%s: general.alignment = %llu is not a power of two up to %llu", origin.c_str(),
           static_cast<unsigned long long>(alignment), static_cast<unsigned long long>(kMaxAlignment));
    }
  }

  struct Info { uint64_t offset; size_t nbytes; };
  std::vector<Info> infos;
  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorView tv;
    tv.name = c.str("tensor name");
    const char* nm = tv.name.c_str();
    const uint32_t n_dims = c.rd<uint32_t>("tensor dimension count");
    if (n_dims < 1 || n_dims > 4) {
      fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' has %u dimensions (1 to 4 allowed)", origin.c_str(), nm, n_dims);
    }
    tv.n_dims = static_cast<int>(n_dims);
    uint64_t nel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = c.rd<uint64_t>("tensor shape");
      if (ne > static_cast<uint64_t>(INT64_MAX) || mul_overflow_u64(nel, ne, &nel) || nel > static_cast<uint64_t>(INT64_MAX)) {
        fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' has an element count that overflows (dimension %u = %llu)", origin.c_str(),
             nm, d, static_cast<unsigned long long>(ne));
      }
      if (ne == 0) {
        // Empty tensors never occur in models and would reach kernels as null data.
        fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' has an empty dimension %u", origin.c_str(), nm, d);
      }
      tv.ne[d] = static_cast<int64_t>(ne);
    }
    const uint32_t type = c.rd<uint32_t>("tensor type");
    const uint64_t offset = c.rd<uint64_t>("tensor offset");
    if (!dtype_known(type)) {
      fail(RWKVX_ERR_UNSUPPORTED, "%s: tensor '%s' has type %u (%s); supported: F32, F16, BF16, Q8_0", origin.c_str(), nm,
           type, ggml_type_name(type));
    }
    tv.type = static_cast<DType>(type);
    uint64_t nbytes = 0;
    if (tv.type == DType::Q8_0) {
      if (tv.ne[0] % kQ8Block != 0) {
        fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' is Q8_0 but its row length %lld is not a multiple of 32", origin.c_str(), nm,
             static_cast<long long>(tv.ne[0]));
      }
      nbytes = nel / kQ8Block * 34;  // cannot overflow: nel <= INT64_MAX
    } else {
      const uint64_t es = tv.type == DType::F32 ? 4 : 2;
      if (mul_overflow_u64(nel, es, &nbytes)) {
        fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' byte size overflows", origin.c_str(), nm);
      }
    }
    if (offset % alignment != 0) {
      fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' offset %llu is not a multiple of the alignment %llu", origin.c_str(), nm,
           static_cast<unsigned long long>(offset), static_cast<unsigned long long>(alignment));
    }
    if (index_.count(tv.name) != 0) fail(RWKVX_ERR_FORMAT, "%s: duplicate tensor name '%s'", origin.c_str(), nm);
    index_.emplace(tv.name, tensors_.size());
    tv.nbytes = static_cast<size_t>(nbytes);
    infos.push_back({offset, tv.nbytes});
    tensors_.push_back(std::move(tv));
  }

  // Data section: the next multiple of the alignment after the tensor infos.
  const uint64_t data_start = (static_cast<uint64_t>(c.pos) + alignment - 1) / alignment * alignment;
  const uint64_t data_size = data_start <= size_ ? size_ - data_start : 0;
  for (size_t k = 0; k < tensors_.size(); ++k) {
    TensorView& tv = tensors_[k];
    const uint64_t off = infos[k].offset;
    if (off > data_size || tv.nbytes > data_size - off) {
      fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' data (offset %llu, %zu bytes) runs past the end of the file (%llu data bytes)",
           origin.c_str(), tv.name.c_str(), static_cast<unsigned long long>(off), tv.nbytes,
           static_cast<unsigned long long>(data_size));
    }
    tv.data = base_ + data_start + off;
    const uintptr_t need_align = tv.type == DType::F32 ? 4 : 2;
    if (reinterpret_cast<uintptr_t>(tv.data) % need_align != 0) {
      fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' data is not aligned for %s", origin.c_str(), tv.name.c_str(), dtype_name(tv.type));
    }
  }
  // Overlapping tensor data means a corrupt index.
  std::vector<size_t> order(tensors_.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return infos[a].offset < infos[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const Info& prev = infos[order[k - 1]];
    const Info& cur = infos[order[k]];
    if (prev.nbytes > 0 && cur.nbytes > 0 && prev.offset + prev.nbytes > cur.offset) {
      fail(RWKVX_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data section", origin.c_str(),
           tensors_[order[k - 1]].name.c_str(), tensors_[order[k]].name.c_str());
    }
  }
}

const GgufValue* GgufReader::get(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

std::string GgufReader::get_str(const std::string& key, const std::string& def) const {
  const GgufValue* v = get(key);
  if (v == nullptr) return def;
  if (v->type != GgufType::STRING) {
    fail(RWKVX_ERR_FORMAT, "metadata '%s' has type %s, expected a string", key.c_str(), gguf_type_name(static_cast<uint32_t>(v->type)));
  }
  return v->str;
}

int64_t GgufReader::get_int(const std::string& key, int64_t def) const {
  const GgufValue* v = get(key);
  if (v == nullptr) return def;
  if (!is_int_type(v->type)) {
    fail(RWKVX_ERR_FORMAT, "metadata '%s' has type %s, expected an integer", key.c_str(), gguf_type_name(static_cast<uint32_t>(v->type)));
  }
  if (v->type == GgufType::U64 && v->u > static_cast<uint64_t>(INT64_MAX)) {
    fail(RWKVX_ERR_FORMAT, "metadata '%s' = %llu is out of range", key.c_str(), static_cast<unsigned long long>(v->u));
  }
  return v->i;
}

double GgufReader::get_float(const std::string& key, double def) const {
  const GgufValue* v = get(key);
  if (v == nullptr) return def;
  if (v->type != GgufType::F32 && v->type != GgufType::F64 && !is_int_type(v->type)) {
    fail(RWKVX_ERR_FORMAT, "metadata '%s' has type %s, expected a number", key.c_str(), gguf_type_name(static_cast<uint32_t>(v->type)));
  }
  return v->f;
}

const TensorView* GgufReader::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

// ------------------------------------------------------------------ writer

namespace {

void put_bytes(std::vector<uint8_t>& b, const void* p, size_t n) {
  const uint8_t* s = static_cast<const uint8_t*>(p);
  b.insert(b.end(), s, s + n);
}
template <class T>
void put(std::vector<uint8_t>& b, T v) { put_bytes(b, &v, sizeof v); }
void put_str(std::vector<uint8_t>& b, const std::string& s) {
  put<uint64_t>(b, s.size());
  put_bytes(b, s.data(), s.size());
}

// Writes a scalar of type t from the widened value.
void put_scalar(std::vector<uint8_t>& b, GgufType t, int64_t i, double f) {
  switch (t) {
    case GgufType::U8: put<uint8_t>(b, static_cast<uint8_t>(i)); break;
    case GgufType::I8: put<int8_t>(b, static_cast<int8_t>(i)); break;
    case GgufType::U16: put<uint16_t>(b, static_cast<uint16_t>(i)); break;
    case GgufType::I16: put<int16_t>(b, static_cast<int16_t>(i)); break;
    case GgufType::U32: put<uint32_t>(b, static_cast<uint32_t>(i)); break;
    case GgufType::I32: put<int32_t>(b, static_cast<int32_t>(i)); break;
    case GgufType::U64: put<uint64_t>(b, static_cast<uint64_t>(i)); break;
    case GgufType::I64: put<int64_t>(b, i); break;
    case GgufType::BOOL: put<uint8_t>(b, i != 0 ? 1 : 0); break;
    case GgufType::F32: put<float>(b, static_cast<float>(f)); break;
    case GgufType::F64: put<double>(b, f); break;
    default: fail(RWKVX_ERR_INTERNAL, "put_scalar: not a scalar type");
  }
}

class OutFile {
 public:
  explicit OutFile(const std::string& path) : path_(path) {
    f_ = std::fopen(path.c_str(), "wb");
    if (f_ == nullptr) fail(RWKVX_ERR_IO, "cannot create '%s': %s", path.c_str(), std::strerror(errno));
  }
  ~OutFile() {
    if (f_ != nullptr) {
      std::fclose(f_);
      std::remove(path_.c_str());  // not committed: leave nothing behind
    }
  }
  void write(const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, f_) != n) fail(RWKVX_ERR_IO, "cannot write '%s': %s", path_.c_str(), std::strerror(errno));
    pos_ += n;
  }
  void pad(uint64_t alignment) {
    static const uint8_t zeros[64] = {0};
    while (pos_ % alignment != 0) write(zeros, std::min<uint64_t>(sizeof zeros, alignment - pos_ % alignment));
  }
  void commit(const std::string& final_path) {
    const bool ok = std::fflush(f_) == 0 && fsync(fileno(f_)) == 0;
    const int e = errno;
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (!ok || rc != 0) {
      std::remove(path_.c_str());
      fail(RWKVX_ERR_IO, "cannot write '%s': %s", path_.c_str(), std::strerror(e));
    }
    if (std::rename(path_.c_str(), final_path.c_str()) != 0) {
      const int e2 = errno;
      std::remove(path_.c_str());
      fail(RWKVX_ERR_IO, "cannot rename '%s' to '%s': %s", path_.c_str(), final_path.c_str(), std::strerror(e2));
    }
  }

 private:
  std::string path_;
  FILE* f_ = nullptr;
  uint64_t pos_ = 0;
};

}  // namespace

void GgufWriter::set_kv(const std::string& key, GgufType type, GgufType elem, std::vector<uint8_t> payload, uint64_t n) {
  for (Kv& kv : kv_) {
    if (kv.key == key) {
      kv = Kv{key, type, elem, std::move(payload), n};
      return;
    }
  }
  kv_.push_back(Kv{key, type, elem, std::move(payload), n});
}

void GgufWriter::set_str(const std::string& key, const std::string& v) {
  std::vector<uint8_t> b;
  put_str(b, v);
  set_kv(key, GgufType::STRING, GgufType::STRING, std::move(b), 1);
}
void GgufWriter::set_u32(const std::string& key, uint32_t v) {
  std::vector<uint8_t> b;
  put(b, v);
  set_kv(key, GgufType::U32, GgufType::U32, std::move(b), 1);
}
void GgufWriter::set_i32(const std::string& key, int32_t v) {
  std::vector<uint8_t> b;
  put(b, v);
  set_kv(key, GgufType::I32, GgufType::I32, std::move(b), 1);
}
void GgufWriter::set_u64(const std::string& key, uint64_t v) {
  std::vector<uint8_t> b;
  put(b, v);
  set_kv(key, GgufType::U64, GgufType::U64, std::move(b), 1);
}
void GgufWriter::set_f32(const std::string& key, float v) {
  std::vector<uint8_t> b;
  put(b, v);
  set_kv(key, GgufType::F32, GgufType::F32, std::move(b), 1);
}
void GgufWriter::set_bool(const std::string& key, bool v) {
  std::vector<uint8_t> b;
  put<uint8_t>(b, v ? 1 : 0);
  set_kv(key, GgufType::BOOL, GgufType::BOOL, std::move(b), 1);
}
void GgufWriter::set_arr_str(const std::string& key, const std::vector<std::string>& v) {
  std::vector<uint8_t> b;
  for (const std::string& s : v) put_str(b, s);
  set_kv(key, GgufType::ARRAY, GgufType::STRING, std::move(b), v.size());
}
void GgufWriter::set_arr_i32(const std::string& key, const std::vector<int32_t>& v) {
  std::vector<uint8_t> b;
  for (int32_t x : v) put(b, x);
  set_kv(key, GgufType::ARRAY, GgufType::I32, std::move(b), v.size());
}
void GgufWriter::set_arr_f32(const std::string& key, const std::vector<float>& v) {
  std::vector<uint8_t> b;
  for (float x : v) put(b, x);
  set_kv(key, GgufType::ARRAY, GgufType::F32, std::move(b), v.size());
}

void GgufWriter::set_value(const std::string& key, const GgufValue& v) {
  std::vector<uint8_t> b;
  if (v.type == GgufType::STRING) {
    set_str(key, v.str);
    return;
  }
  if (v.type != GgufType::ARRAY) {
    if (scalar_size(static_cast<uint32_t>(v.type)) == 0) fail(RWKVX_ERR_INVALID_ARGUMENT, "metadata '%s': bad value type", key.c_str());
    put_scalar(b, v.type, v.i, v.f);
    set_kv(key, v.type, v.type, std::move(b), 1);
    return;
  }
  const GgufType et = v.elem_type;
  size_t n = 0;
  if (et == GgufType::STRING) {
    for (const std::string& s : v.arr_str) put_str(b, s);
    n = v.arr_str.size();
  } else if (et == GgufType::F32 || et == GgufType::F64) {
    for (double x : v.arr_f) put_scalar(b, et, 0, x);
    n = v.arr_f.size();
  } else if (scalar_size(static_cast<uint32_t>(et)) != 0) {
    for (int64_t x : v.arr_i) put_scalar(b, et, x, 0);
    n = v.arr_i.size();
  } else {
    fail(RWKVX_ERR_UNSUPPORTED, "metadata '%s': nested arrays cannot be written", key.c_str());
  }
  set_kv(key, GgufType::ARRAY, et, std::move(b), n);
}

void GgufWriter::check_new_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne, size_t* nbytes) const {
  if (!dtype_known(static_cast<uint32_t>(type))) fail(RWKVX_ERR_INVALID_ARGUMENT, "tensor '%s': unknown type", name.c_str());
  if (ne.empty() || ne.size() > 4) fail(RWKVX_ERR_INVALID_ARGUMENT, "tensor '%s': %zu dimensions (1 to 4 allowed)", name.c_str(), ne.size());
  int64_t nel = 1;
  for (int64_t d : ne) {
    if (d <= 0 || __builtin_mul_overflow(nel, d, &nel)) fail(RWKVX_ERR_INVALID_ARGUMENT, "tensor '%s': bad shape", name.c_str());
  }
  if (type == DType::Q8_0 && ne[0] % kQ8Block != 0) {
    fail(RWKVX_ERR_SHAPE, "tensor '%s': Q8_0 needs a row length that is a multiple of 32, got %lld", name.c_str(),
         static_cast<long long>(ne[0]));
  }
  for (const T& t : tensors_) {
    if (t.name == name) fail(RWKVX_ERR_INVALID_ARGUMENT, "duplicate tensor name '%s'", name.c_str());
  }
  *nbytes = dtype_row_bytes(type, ne[0]) * static_cast<size_t>(nel / ne[0]);
}

void GgufWriter::add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne, std::vector<uint8_t> data) {
  size_t nbytes = 0;
  check_new_tensor(name, type, ne, &nbytes);
  if (data.size() != nbytes) {
    fail(RWKVX_ERR_INVALID_ARGUMENT, "tensor '%s': %zu data bytes, expected %zu", name.c_str(), data.size(), nbytes);
  }
  tensors_.push_back(T{name, type, ne, std::move(data), nullptr, nbytes});
}

void GgufWriter::add_tensor_deferred(const std::string& name, DType type, const std::vector<int64_t>& ne, Producer produce) {
  size_t nbytes = 0;
  check_new_tensor(name, type, ne, &nbytes);
  tensors_.push_back(T{name, type, ne, {}, std::move(produce), nbytes});
}

void GgufWriter::write(const std::string& path) const {
  const uint64_t alignment = kDefaultAlignment;
  std::vector<uint8_t> head;
  put<uint32_t>(head, kMagic);
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, kv_.size());
  for (const Kv& kv : kv_) {
    put_str(head, kv.key);
    put<uint32_t>(head, static_cast<uint32_t>(kv.type));
    if (kv.type == GgufType::ARRAY) {
      put<uint32_t>(head, static_cast<uint32_t>(kv.elem));
      put<uint64_t>(head, kv.n);
    }
    put_bytes(head, kv.payload.data(), kv.payload.size());
  }
  uint64_t offset = 0;
  for (const T& t : tensors_) {
    put_str(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(head, static_cast<uint64_t>(d));
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offset += (t.nbytes + alignment - 1) / alignment * alignment;
  }

  const std::string tmp = path + ".tmp";
  OutFile out(tmp);
  out.write(head.data(), head.size());
  out.pad(alignment);
  for (const T& t : tensors_) {
    if (t.produce) {
      const std::vector<uint8_t> data = t.produce();
      if (data.size() != t.nbytes) {
        fail(RWKVX_ERR_INTERNAL, "tensor '%s': producer returned %zu bytes, expected %zu", t.name.c_str(), data.size(), t.nbytes);
      }
      out.write(data.data(), data.size());
    } else {
      out.write(t.data.data(), t.data.size());
    }
    out.pad(alignment);
  }
  out.commit(path);
}

}  // namespace rwkvx

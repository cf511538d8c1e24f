// Reads a torch.save checkpoint (zip format) without Python: a small pickle
// virtual machine that only builds data (it never calls anything), enough for
// a state dict: tensors rebuilt by torch._utils._rebuild_tensor_v2 over
// storages that live in the archive's data/<key> entries.
#include <cstring>
#include <memory>
#include <unordered_map>

#include "convert_source.h"
#include "error.h"
#include "half.h"

namespace rwkvx {

namespace {

struct Obj;
// Objects live in the unpickler's arena and refer to each other by plain
// pointers: a hostile pickle can build cycles (a list appended to itself),
// which reference counting would leak.
using Val = Obj*;

struct Obj {
  enum Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor, Other } kind = None;
  int64_t i = 0;
  double f = 0;
  std::string s, s2;          // Str/Bytes text; Global module/name; Storage key/type name
  std::vector<Val> items;     // Tuple/List; Dict as key, value, key, value ...
  SrcType dtype = SrcType::Other;  // Storage
  Val storage;                // Tensor
  std::vector<int64_t> shape, stride;
};

const char* kind_name(Obj::Kind k) {
  static const char* n[] = {"None", "bool", "int", "float", "str", "bytes", "tuple", "list",
                            "dict", "global", "storage", "tensor", "object"};
  return n[k];
}

struct StorageInfo { SrcType type; const char* name; };

StorageInfo storage_type(const std::string& name) {
  if (name == "BFloat16Storage") return {SrcType::BF16, "BFloat16Storage"};
  if (name == "HalfStorage") return {SrcType::F16, "HalfStorage"};
  if (name == "FloatStorage") return {SrcType::F32, "FloatStorage"};
  if (name == "DoubleStorage") return {SrcType::F64, "DoubleStorage"};
  return {SrcType::Other, nullptr};
}

class Unpickler {
 public:
  Unpickler(const uint8_t* p, size_t n, const std::string& origin) : p_(p), n_(n), origin_(origin) {}

  Val mk(Obj::Kind k) {
    arena_.push_back(std::make_unique<Obj>());
    arena_.back()->kind = k;
    return arena_.back().get();
  }

  Val run() {
    while (true) {
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                            // PROTO
        case 0x95: take(8); break;                           // FRAME
        case '.': {                                          // STOP
          Val v = pop();
          return v;
        }
        case '(': marks_.push_back(stack_.size()); break;     // MARK
        case '}': push(mk(Obj::Dict)); break;                // EMPTY_DICT
        case ']': push(mk(Obj::List)); break;                // EMPTY_LIST
        case ')': push(mk(Obj::Tuple)); break;               // EMPTY_TUPLE
        case 'd': { Val d = mk(Obj::Dict); d->items = pop_mark(); check_pairs(d); push(d); break; }  // DICT
        case 'l': { Val l = mk(Obj::List); l->items = pop_mark(); push(l); break; }  // LIST
        case 't': { Val t = mk(Obj::Tuple); t->items = pop_mark(); push(t); break; }  // TUPLE
        case 0x85: case 0x86: case 0x87: {                   // TUPLE1..3
          const size_t k = op - 0x84u;
          need_stack(k);
          Val t = mk(Obj::Tuple);
          t->items.assign(stack_.end() - static_cast<long>(k), stack_.end());
          stack_.resize(stack_.size() - k);
          push(t);
          break;
        }
        case 'a': { Val v = pop(); Val l = top(); want(l, Obj::List, "APPEND"); l->items.push_back(v); break; }
        case 'e': { std::vector<Val> xs = pop_mark(); Val l = top(); want(l, Obj::List, "APPENDS");
                    l->items.insert(l->items.end(), xs.begin(), xs.end()); break; }
        case 's': { Val v = pop(); Val k = pop(); Val d = top(); want(d, Obj::Dict, "SETITEM");
                    d->items.push_back(k); d->items.push_back(v); break; }
        case 'u': { std::vector<Val> xs = pop_mark(); Val d = top(); want(d, Obj::Dict, "SETITEMS");
                    if (xs.size() % 2) bad("SETITEMS with an odd number of items");
                    d->items.insert(d->items.end(), xs.begin(), xs.end()); break; }
        case 'N': push(mk(Obj::None)); break;
        case 0x88: case 0x89: { Val b = mk(Obj::Bool); b->i = op == 0x88; push(b); break; }  // NEWTRUE/NEWFALSE
        case 'J': { int32_t v; std::memcpy(&v, take(4), 4); push_int(v); break; }           // BININT
        case 'K': push_int(byte()); break;                                                 // BININT1
        case 'M': { uint16_t v; std::memcpy(&v, take(2), 2); push_int(v); break; }          // BININT2
        case 0x8a: {                                                                       // LONG1
          const size_t k = byte();
          const uint8_t* b = take(k);
          if (k > 8) bad("LONG1 integer wider than 64 bits");
          uint64_t u = 0;
          for (size_t j = 0; j < k; ++j) u |= static_cast<uint64_t>(b[j]) << (8 * j);
          if (k > 0 && k < 8 && (b[k - 1] & 0x80)) u |= ~0ull << (8 * k);  // sign-extend
          push_int(static_cast<int64_t>(u));
          break;
        }
        case 'I': {                                                                        // INT (text)
          const std::string t = line();
          if (t == "01" || t == "00") { Val b = mk(Obj::Bool); b->i = t == "01"; push(b); break; }
          char* end = nullptr;
          const long long v = std::strtoll(t.c_str(), &end, 10);
          if (t.empty() || *end != 0) bad("bad INT text");
          push_int(v);
          break;
        }
        case 'G': {                                                                        // BINFLOAT (big-endian)
          const uint8_t* b = take(8);
          uint64_t u = 0;
          for (int j = 0; j < 8; ++j) u = (u << 8) | b[j];
          Val v = mk(Obj::Float);
          std::memcpy(&v->f, &u, 8);
          push(v);
          break;
        }
        case 'X': { uint32_t k; std::memcpy(&k, take(4), 4); push_str(Obj::Str, k); break; }     // BINUNICODE
        case 0x8c: push_str(Obj::Str, byte()); break;                                         // SHORT_BINUNICODE
        case 0x8d: { uint64_t k; std::memcpy(&k, take(8), 8); push_str(Obj::Str, k); break; }    // BINUNICODE8
        case 'B': { uint32_t k; std::memcpy(&k, take(4), 4); push_str(Obj::Bytes, k); break; }   // BINBYTES
        case 'C': push_str(Obj::Bytes, byte()); break;                                        // SHORT_BINBYTES
        case 'T': { uint32_t k; std::memcpy(&k, take(4), 4); push_str(Obj::Str, k); break; }     // BINSTRING
        case 'U': push_str(Obj::Str, byte()); break;                                          // SHORT_BINSTRING
        case 'c': {                                                                           // GLOBAL
          Val g = mk(Obj::Global);
          g->s = line();
          g->s2 = line();
          push(g);
          break;
        }
        case 0x93: {                                                                          // STACK_GLOBAL
          Val name = pop(), mod = pop();
          want(name, Obj::Str, "STACK_GLOBAL");
          want(mod, Obj::Str, "STACK_GLOBAL");
          Val g = mk(Obj::Global);
          g->s = mod->s;
          g->s2 = name->s;
          push(g);
          break;
        }
        case 'q': memo_[byte()] = top(); break;                                               // BINPUT
        case 'r': { uint32_t k; std::memcpy(&k, take(4), 4); memo_[k] = top(); break; }      // LONG_BINPUT
        case 0x94: { const uint32_t k = static_cast<uint32_t>(memo_.size()); memo_[k] = top(); break; }  // MEMOIZE
        case 'p': memo_[text_index()] = top(); break;                                         // PUT
        case 'h': push(memo(byte())); break;                                                  // BINGET
        case 'j': { uint32_t k; std::memcpy(&k, take(4), 4); push(memo(k)); break; }         // LONG_BINGET
        case 'g': push(memo(text_index())); break;                                            // GET
        case '0': pop(); break;                                                               // POP
        case '1': pop_mark(); break;                                                          // POP_MARK
        case '2': push(top()); break;                                                         // DUP
        case 'Q': push(persistent(pop())); break;                                             // BINPERSID
        case 'R': {                                                                           // REDUCE
          Val args = pop(), fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 0x81: {                                                                          // NEWOBJ
          Val args = pop(), cls = pop();
          push(reduce(cls, args));
          break;
        }
        case 'b': pop(); break;  // BUILD: the state (e.g. a state dict's _metadata) is not needed
        default:
          fail(RWKVX_ERR_UNSUPPORTED, "%s: unsupported pickle opcode 0x%02x at offset %zu", origin_.c_str(), op, pos_ - 1);
      }
    }
  }

  // Storages referenced so far: key → (type, element count).
  std::map<std::string, Val> storages;

 private:
  [[noreturn]] void bad(const char* what) const {
    fail(RWKVX_ERR_FORMAT, "%s: corrupt pickle (%s at offset %zu)", origin_.c_str(), what, pos_);
  }
  uint8_t byte() { return *take(1); }
  const uint8_t* take(uint64_t k) {
    if (k > n_ - pos_) bad("unexpected end of data");
    const uint8_t* r = p_ + pos_;
    pos_ += static_cast<size_t>(k);
    return r;
  }
  std::string line() {
    const void* nl = std::memchr(p_ + pos_, '\n', n_ - pos_);
    if (nl == nullptr) bad("unterminated line");
    const size_t end = static_cast<size_t>(static_cast<const uint8_t*>(nl) - p_);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), end - pos_);
    pos_ = end + 1;
    return s;
  }
  uint32_t text_index() {
    const std::string t = line();
    char* end = nullptr;
    const unsigned long v = std::strtoul(t.c_str(), &end, 10);
    if (t.empty() || *end != 0 || v > UINT32_MAX) bad("bad memo index");
    return static_cast<uint32_t>(v);
  }
  void push(Val v) {
    if (stack_.size() > (1u << 24)) bad("stack too deep");
    stack_.push_back(v);
  }
  void push_int(int64_t v) {
    Val x = mk(Obj::Int);
    x->i = v;
    push(x);
  }
  void push_str(Obj::Kind k, uint64_t len) {
    Val x = mk(k);
    const uint8_t* b = take(len);
    x->s.assign(reinterpret_cast<const char*>(b), static_cast<size_t>(len));
    push(x);
  }
  Val pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) bad("stack underflow");
    Val v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Val top() {
    if (stack_.empty()) bad("stack underflow");
    return stack_.back();
  }
  void need_stack(size_t k) {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() < floor + k) bad("stack underflow");
  }
  std::vector<Val> pop_mark() {
    if (marks_.empty()) bad("no MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Val> xs(stack_.begin() + static_cast<long>(m), stack_.end());
    stack_.resize(m);
    return xs;
  }
  Val memo(uint32_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) bad("memo key not found");
    return it->second;
  }
  void want(const Val& v, Obj::Kind k, const char* op) const {
    if (v->kind != k) {
      fail(RWKVX_ERR_FORMAT, "%s: corrupt pickle (%s on a %s, expected a %s)", origin_.c_str(), op, kind_name(v->kind), kind_name(k));
    }
  }
  void check_pairs(const Val& d) const {
    if (d->items.size() % 2) fail(RWKVX_ERR_FORMAT, "%s: corrupt pickle (DICT with an odd number of items)", origin_.c_str());
  }
  int64_t as_int(const Val& v, const char* what) const {
    if (v->kind != Obj::Int && v->kind != Obj::Bool) fail(RWKVX_ERR_FORMAT, "%s: %s is a %s, expected an int", origin_.c_str(), what, kind_name(v->kind));
    return v->i;
  }
  std::vector<int64_t> as_ints(const Val& v, const char* what) const {
    if (v->kind != Obj::Tuple && v->kind != Obj::List) fail(RWKVX_ERR_FORMAT, "%s: %s is a %s, expected a tuple", origin_.c_str(), what, kind_name(v->kind));
    std::vector<int64_t> r;
    for (const Val& x : v->items) r.push_back(as_int(x, what));
    return r;
  }

  // torch's persistent id: ('storage', <storage class>, key, location, numel).
  Val persistent(const Val& pid) {
    if (pid->kind != Obj::Tuple || pid->items.size() < 5 || pid->items[0]->kind != Obj::Str || pid->items[0]->s != "storage") {
      fail(RWKVX_ERR_UNSUPPORTED, "%s: unsupported persistent id in the pickle (not a torch storage)", origin_.c_str());
    }
    const Val& cls = pid->items[1];
    const Val& key = pid->items[2];
    if (cls->kind != Obj::Global || key->kind != Obj::Str) fail(RWKVX_ERR_FORMAT, "%s: bad torch storage reference", origin_.c_str());
    Val st = mk(Obj::Storage);
    st->s = key->s;
    const StorageInfo info = storage_type(cls->s2);
    st->dtype = info.type;
    st->s2 = cls->s2;
    st->i = as_int(pid->items[4], "storage size");
    if (st->i < 0) fail(RWKVX_ERR_FORMAT, "%s: negative storage size", origin_.c_str());
    auto it = storages.find(key->s);
    if (it != storages.end()) return it->second;
    storages[key->s] = st;
    return st;
  }

  Val reduce(const Val& fn, const Val& args) {
    if (fn->kind == Obj::Global && args->kind == Obj::Tuple) {
      const std::string& mod = fn->s;
      const std::string& name = fn->s2;
      const std::vector<Val>& a = args->items;
      if (mod == "torch._utils" && (name == "_rebuild_tensor_v2" || name == "_rebuild_tensor") && a.size() >= 4) {
        if (a[0]->kind != Obj::Storage) fail(RWKVX_ERR_FORMAT, "%s: tensor rebuilt from a %s, not a storage", origin_.c_str(), kind_name(a[0]->kind));
        Val t = mk(Obj::Tensor);
        t->storage = a[0];
        t->i = as_int(a[1], "storage offset");
        t->shape = as_ints(a[2], "tensor size");
        t->stride = as_ints(a[3], "tensor stride");
        if (t->shape.size() != t->stride.size()) fail(RWKVX_ERR_FORMAT, "%s: tensor size and stride differ in length", origin_.c_str());
        return t;
      }
      if (mod == "torch._utils" && (name == "_rebuild_parameter" || name == "_rebuild_parameter_with_state") && !a.empty()) {
        return a[0];
      }
      if (mod == "torch._tensor" && name == "_rebuild_from_type_v2" && a.size() >= 3) {
        return reduce(a[0], a[2]);  // (func, type, args, state): rebuild with func(*args)
      }
      if (mod == "collections" && name == "OrderedDict") {
        Val d = mk(Obj::Dict);
        return d;
      }
    }
    Val o = mk(Obj::Other);
    o->items = {fn, args};
    return o;
  }

  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& origin_;
  std::vector<std::unique_ptr<Obj>> arena_;
  std::vector<Val> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Val> memo_;
};

}  // namespace

size_t src_type_size(SrcType t) {
  switch (t) {
    case SrcType::F32: return 4;
    case SrcType::F16: case SrcType::BF16: return 2;
    case SrcType::F64: return 8;
    default: return 0;
  }
}

int64_t SrcTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void check_strided_bounds(const SrcTensor& t, uint64_t storage_elems, const std::string& origin) {
  // Largest element index reached: offset + sum (size-1) * stride; sizes and
  // strides must be non-negative and nothing may overflow.
  if (t.offset < 0) fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' has a negative storage offset", origin.c_str(), t.name.c_str());
  int64_t n = 1;
  int64_t last = t.offset;
  for (size_t d = 0; d < t.shape.size(); ++d) {
    const int64_t sz = t.shape[d], st = t.stride[d];
    if (sz < 0 || st < 0) fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' has a negative size or stride", origin.c_str(), t.name.c_str());
    if (__builtin_mul_overflow(n, sz, &n)) fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' size overflows", origin.c_str(), t.name.c_str());
    if (sz == 0) continue;
    int64_t span = 0;
    if (__builtin_mul_overflow(sz - 1, st, &span) || __builtin_add_overflow(last, span, &last)) {
      fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' strides overflow", origin.c_str(), t.name.c_str());
    }
  }
  if (static_cast<uint64_t>(n) > storage_elems) {
    // More elements than the storage holds: an expanded view, never a weight.
    fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' has %lld elements but its storage only %llu", origin.c_str(), t.name.c_str(),
         static_cast<long long>(n), static_cast<unsigned long long>(storage_elems));
  }
  if (n > 0 && static_cast<uint64_t>(last) >= storage_elems) {
    fail(RWKVX_ERR_FORMAT, "%s: tensor '%s' reaches element %lld of a storage of %llu elements", origin.c_str(), t.name.c_str(),
         static_cast<long long>(last), static_cast<unsigned long long>(storage_elems));
  }
}

std::vector<float> SrcTensor::to_f32() const {
  if (load) return load();
  const size_t es = src_type_size(type);
  if (es == 0) fail(RWKVX_ERR_UNSUPPORTED, "tensor '%s' has element type %s (supported: F32, F16, BF16, F64)", name.c_str(), type_name.c_str());
  const int64_t n = numel();
  std::vector<float> out(static_cast<size_t>(n));
  if (n == 0) return out;
  auto get = [&](int64_t idx) -> float {
    const uint8_t* p = data + static_cast<size_t>(idx) * es;
    switch (type) {
      case SrcType::F32: { float v; std::memcpy(&v, p, 4); return v; }
      case SrcType::F16: { uint16_t v; std::memcpy(&v, p, 2); return fp16_to_f32(v); }
      case SrcType::BF16: { uint16_t v; std::memcpy(&v, p, 2); return bf16_to_f32(v); }
      case SrcType::F64: { double v; std::memcpy(&v, p, 8); return static_cast<float>(v); }
      default: return 0.f;
    }
  };
  // Contiguous (the usual case): one pass per type.
  bool contiguous = true;
  int64_t expect = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] != 1 && stride[d] != expect) contiguous = false;
    expect *= shape[d];
  }
  if (contiguous) {
    const uint8_t* p = data + static_cast<size_t>(offset) * es;
    float* o = out.data();
    switch (type) {
      case SrcType::F32: std::memcpy(o, p, static_cast<size_t>(n) * 4); return out;
      case SrcType::F16: for (int64_t i = 0; i < n; ++i) { uint16_t v; std::memcpy(&v, p + 2 * i, 2); o[i] = fp16_to_f32(v); } return out;
      case SrcType::BF16: for (int64_t i = 0; i < n; ++i) { uint16_t v; std::memcpy(&v, p + 2 * i, 2); o[i] = bf16_to_f32(v); } return out;
      default: break;
    }
  }
  // Walk the index space in row-major order with an odometer over the dims.
  const size_t nd = shape.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t off = offset;
  const int64_t inner = nd ? shape[nd - 1] : 1;
  const int64_t inner_stride = nd ? stride[nd - 1] : 0;
  for (int64_t done = 0; done < n; done += inner) {
    float* dst = out.data() + done;
    for (int64_t j = 0; j < inner; ++j) dst[j] = get(off + j * inner_stride);
    // Advance the outer dimensions.
    for (size_t d = nd >= 1 ? nd - 1 : 0; d-- > 0;) {
      ++idx[d];
      off += stride[d];
      if (idx[d] < shape[d]) break;
      off -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

Source read_torch_pth(const std::string& path) {
  auto file = MappedFile::open(path);
  Source src = read_torch_pth_memory(file->data(), file->size(), path);
  src.files.push_back(file);
  return src;
}

Source read_torch_pth_memory(const uint8_t* d, size_t n, const std::string& path) {
  Source src;
  src.kind = "pth";
  if (n >= 2 && d[0] == 0x80 && d[1] <= 5) {
    fail(RWKVX_ERR_UNSUPPORTED, "%s: legacy (pre-zip) torch serialization is not supported; re-save it with a recent torch", path.c_str());
  }
  if (n < 4 || std::memcmp(d, "PK\x03\x04", 4) != 0) fail(RWKVX_ERR_FORMAT, "%s: not a torch zip checkpoint", path.c_str());
  const std::vector<ZipEntry> entries = zip_list(d, n, path);

  // The archive's top folder name is arbitrary; data.pkl names it.
  const ZipEntry* pkl = nullptr;
  for (const ZipEntry& e : entries) {
    const size_t sl = e.name.find('/');
    if (sl != std::string::npos && e.name.compare(sl, std::string::npos, "/data.pkl") == 0) {
      pkl = &e;
      break;
    }
  }
  if (pkl == nullptr) fail(RWKVX_ERR_FORMAT, "%s: zip has no <archive>/data.pkl: not a torch checkpoint", path.c_str());
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // "<archive>/"
  std::map<std::string, const ZipEntry*> by_name;
  for (const ZipEntry& e : entries) by_name[e.name] = &e;
  auto stored = [&](const ZipEntry& e) {
    if (e.flags & 1) fail(RWKVX_ERR_UNSUPPORTED, "%s: zip entry '%s' is encrypted", path.c_str(), e.name.c_str());
    if (e.method != 0) {
      fail(RWKVX_ERR_UNSUPPORTED, "%s: zip entry '%s' is compressed (method %u); only stored entries (as torch.save writes) are supported",
           path.c_str(), e.name.c_str(), e.method);
    }
  };
  if (auto it = by_name.find(prefix + "byteorder"); it != by_name.end()) {
    stored(*it->second);
    const std::string bo(reinterpret_cast<const char*>(d + it->second->data_offset), static_cast<size_t>(it->second->size));
    if (bo != "little") fail(RWKVX_ERR_UNSUPPORTED, "%s: byte order '%s' is not supported", path.c_str(), bo.c_str());
  }
  stored(*pkl);

  Unpickler up(d + pkl->data_offset, static_cast<size_t>(pkl->size), path);
  Val root = up.run();
  if (root->kind != Obj::Dict) fail(RWKVX_ERR_FORMAT, "%s: the checkpoint is a %s, not a state dict", path.c_str(), kind_name(root->kind));

  for (size_t k = 0; k + 1 < root->items.size(); k += 2) {
    const Val& key = root->items[k];
    const Val& val = root->items[k + 1];
    if (key->kind != Obj::Str || val->kind != Obj::Tensor) continue;  // ignore non-tensor entries
    const Val& st = val->storage;
    SrcTensor t;
    t.name = key->s;
    t.type = st->dtype;
    t.type_name = st->s2;
    t.shape = val->shape;
    t.stride = val->stride;
    t.offset = val->i;
    auto it = by_name.find(prefix + "data/" + st->s);
    if (it == by_name.end()) fail(RWKVX_ERR_FORMAT, "%s: storage '%s' of tensor '%s' is missing from the archive", path.c_str(),
                                  st->s.c_str(), t.name.c_str());
    const ZipEntry& e = *it->second;
    stored(e);
    const size_t es = src_type_size(t.type);
    if (es != 0) {
      const uint64_t elems = e.size / es;
      if (static_cast<uint64_t>(st->i) > elems) {
        fail(RWKVX_ERR_FORMAT, "%s: storage '%s' declares %lld elements but holds %llu bytes", path.c_str(), st->s.c_str(),
             static_cast<long long>(st->i), static_cast<unsigned long long>(e.size));
      }
      check_strided_bounds(t, static_cast<uint64_t>(st->i), path);
    }
    t.data = d + e.data_offset;
    if (src.tensors.count(t.name)) fail(RWKVX_ERR_FORMAT, "%s: duplicate key '%s'", path.c_str(), t.name.c_str());
    src.tensors.emplace(t.name, std::move(t));
  }
  if (src.tensors.empty()) fail(RWKVX_ERR_FORMAT, "%s: the checkpoint holds no tensors", path.c_str());
  return src;
}

}  // namespace rwkvx

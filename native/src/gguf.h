// GGUF v3 reader (memory-mapped or read into memory) and writer.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor.h"

namespace rwkvx {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12
};

struct GgufValue {
  GgufType type = GgufType::U32;
  GgufType elem_type = GgufType::U32;  // for arrays
  // Scalars are widened into one of these; arrays fill the vectors.
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string str;
  std::vector<int64_t> arr_i;
  std::vector<double> arr_f;
  std::vector<std::string> arr_str;
  size_t arr_len = 0;
};

class GgufReader {
 public:
  // Throws rwkvx::Error (RWKVX_ERR_IO / RWKVX_ERR_FORMAT / RWKVX_ERR_UNSUPPORTED)
  // on any malformed input: bad magic, version, truncation, offsets or sizes
  // out of range, unknown tensor type, overflow.
  static std::shared_ptr<GgufReader> open(const std::string& path, bool use_mmap);
  static std::shared_ptr<GgufReader> from_memory(const uint8_t* data, size_t size);  // copies
  ~GgufReader();

  const GgufValue* get(const std::string& key) const;
  std::string get_str(const std::string& key, const std::string& def = "") const;
  int64_t get_int(const std::string& key, int64_t def) const;   // any integer type
  double get_float(const std::string& key, double def) const;   // any numeric type
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }

  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;
  uint32_t version() const { return version_; }

 private:
  GgufReader() = default;
  void parse(const std::string& origin);

  uint32_t version_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;           // mmap base (if mapped)
  // If read or copied into memory: 64-byte aligned like a mapping's page, so
  // tensors keep the file's alignment (a vector's storage is only 16).
  struct FreeBytes { void operator()(uint8_t* p) const { std::free(p); } };
  std::unique_ptr<uint8_t, FreeBytes> owned_;
  void own(size_t size);
};

class GgufWriter {
 public:
  void set_str(const std::string& key, const std::string& v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_arr_str(const std::string& key, const std::vector<std::string>& v);
  void set_arr_i32(const std::string& key, const std::vector<int32_t>& v);
  void set_arr_f32(const std::string& key, const std::vector<float>& v);
  // ne in ggml order (contiguous first); data must hold nbytes of the given type.
  void add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                  std::vector<uint8_t> data);
  // Any metadata value as a reader returns it (used to copy metadata when
  // re-typing a GGUF); nested arrays are not supported.
  void set_value(const std::string& key, const GgufValue& v);
  // Like add_tensor, but the bytes are produced during write(), one tensor at a
  // time, so a converter never holds the whole model in memory. The producer
  // must return exactly the tensor's byte size; it may throw (e.g. on abort),
  // in which case write() removes the temporary file and rethrows.
  using Producer = std::function<std::vector<uint8_t>()>;
  void add_tensor_deferred(const std::string& name, DType type, const std::vector<int64_t>& ne,
                           Producer produce);
  // Writes to path + ".tmp" then renames (alignment 32).
  void write(const std::string& path) const;

 private:
  struct Kv { std::string key; GgufType type; GgufType elem; std::vector<uint8_t> payload; uint64_t n; };
  struct T { std::string name; DType type; std::vector<int64_t> ne; std::vector<uint8_t> data; Producer produce; size_t nbytes; };
  void set_kv(const std::string& key, GgufType type, GgufType elem, std::vector<uint8_t> payload, uint64_t n);
  void check_new_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne, size_t* nbytes) const;
  std::vector<Kv> kv_;
  std::vector<T> tensors_;
};

}  // namespace rwkvx

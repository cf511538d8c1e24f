// Internal to the converter: tensors of an input checkpoint, read lazily from
// a memory-mapped file (torch zip, safetensors) or a GGUF.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rwkvx {

// A read-only memory map of a whole file.
class MappedFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

enum class SrcType { F32, F16, BF16, F64, Other };

struct SrcTensor {
  std::string name;
  SrcType type = SrcType::F32;
  std::string type_name;          // for messages ("BFloat16Storage", "I64", ...)
  std::vector<int64_t> shape;     // outermost first (torch order)
  std::vector<int64_t> stride;    // in elements
  int64_t offset = 0;             // in elements from `data`
  const uint8_t* data = nullptr;  // storage base (bounds checked when built)
  std::function<std::vector<float>()> load;  // used instead of data when set

  int64_t numel() const;
  // Elements in row-major order of `shape`, as fp32.
  std::vector<float> to_f32() const;
};

struct Source {
  std::string kind;  // "pth", "safetensors"
  std::vector<std::shared_ptr<MappedFile>> files;  // keep the mappings alive
  std::map<std::string, SrcTensor> tensors;
  std::string config_json;  // fla folder: config.json text, if any
};

// Element size of a stored type (0 for Other).
size_t src_type_size(SrcType t);
// Checks that a strided tensor stays inside a storage of `storage_elems` elements.
void check_strided_bounds(const SrcTensor& t, uint64_t storage_elems, const std::string& origin);

// A torch.save zip (.pth): state dict tensors. Compressed entries and the
// legacy (pre-1.6) format are reported as unsupported.
Source read_torch_pth(const std::string& path);
// The same over bytes in memory (not copied: they must outlive the Source).
Source read_torch_pth_memory(const uint8_t* data, size_t size, const std::string& origin);
// A .safetensors file, or a folder holding one or more of them (+ config.json).
Source read_safetensors(const std::string& path);

// ---- pieces exposed for tests and fuzzing
struct ZipEntry {
  std::string name;
  uint64_t data_offset = 0;  // of the stored bytes in the file
  uint64_t size = 0;
  uint16_t method = 0;       // 0 = stored
  uint16_t flags = 0;
};
// Parses the central directory (zip64 included) of an in-memory zip.
std::vector<ZipEntry> zip_list(const uint8_t* data, size_t size, const std::string& origin);

// Minimal JSON value for safetensors headers and config.json.
struct Json {
  enum Kind { Null, Bool, Num, Str, Arr, Obj } kind = Null;
  bool b = false;
  double num = 0;
  int64_t i = 0;       // exact value when the number is an integer
  bool is_int = false;
  std::string str;
  std::vector<Json> arr;
  std::vector<std::pair<std::string, Json>> obj;
  const Json* get(const std::string& key) const;
};
Json json_parse(const char* text, size_t len, const std::string& origin);

}  // namespace rwkvx

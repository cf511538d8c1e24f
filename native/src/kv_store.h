// Append-only key/value cache of one attention block, paged by the attention
// chunk size. Each page holds `chunk` tokens of keys and values (fp32 or fp16)
// and the fp32 sum of its keys. Pages are reference-counted: fork() shares
// them, and a write to a shared page copies it first.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace rwkvx {

enum class KvType { F32 = 0, F16 = 1 };

class KvStore {
 public:
  KvStore(int64_t width, int64_t chunk, KvType type) : width_(width), chunk_(chunk), type_(type) {}

  int64_t size() const { return n_; }
  int64_t width() const { return width_; }
  int64_t chunk() const { return chunk_; }
  KvType type() const { return type_; }
  int64_t n_pages() const { return static_cast<int64_t>(pages_.size()); }
  size_t bytes_per_token() const { return static_cast<size_t>(width_) * 2 * (type_ == KvType::F32 ? 4 : 2); }

  // Appends T rows of keys and values ([T][width] each).
  void append(const float* k, const float* v, int64_t T);
  // Drops everything from position n on.
  void truncate(int64_t n);
  void clear() { pages_.clear(); n_ = 0; }
  // A store sharing all pages with this one.
  KvStore fork() const { return *this; }

  // Row access: writes `width` floats of key / value at position pos into out.
  void key(int64_t pos, float* out) const;
  void value(int64_t pos, float* out) const;
  // Pointer to the raw row (fp32 or fp16 depending on type()).
  const void* key_row(int64_t pos) const;
  const void* value_row(int64_t pos) const;
  // Sum of keys of page j (width floats).
  const float* key_sum(int64_t page) const { return pages_[static_cast<size_t>(page)]->ksum.data(); }

  // Raw serialization of rows [0, n): keys then values per row in the store's type.
  void write_rows(std::vector<uint8_t>& out) const;
  void read_rows(const uint8_t* data, int64_t n);

 private:
  struct Page {
    std::vector<uint8_t> k, v;  // chunk * width elements of the store type
    std::vector<float> ksum;    // width
  };
  Page& writable_page(int64_t index);
  void recompute_sum(Page& p, int64_t rows) const;

  int64_t width_, chunk_;
  KvType type_;
  int64_t n_ = 0;
  std::vector<std::shared_ptr<Page>> pages_;
};

}  // namespace rwkvx

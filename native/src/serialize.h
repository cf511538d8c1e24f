// Little-endian byte writer/reader with bounds checks and a trailing FNV-1a
// checksum, for state and session blobs.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "error.h"

namespace rwkvx {

inline uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) { h ^= p[i]; h *= 0x100000001b3ull; }
  return h;
}

class ByteWriter {
 public:
  void bytes(const void* p, size_t n) { const uint8_t* b = static_cast<const uint8_t*>(p); buf_.insert(buf_.end(), b, b + n); }
  void magic(const char* m) { bytes(m, 8); }
  void u8(uint8_t v) { bytes(&v, 1); }
  void u32(uint32_t v) { bytes(&v, 4); }
  void u64(uint64_t v) { bytes(&v, 8); }
  void i64(int64_t v) { bytes(&v, 8); }
  void floats(const std::vector<float>& v) { u64(v.size()); bytes(v.data(), v.size() * 4); }
  void finish_checksum() { u64(fnv1a(buf_.data(), buf_.size())); }
  std::vector<uint8_t> take() { return std::move(buf_); }

 private:
  std::vector<uint8_t> buf_;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n, const char* what) : p_(p), n_(n), what_(what) {}
  void verify_checksum() {
    if (n_ < 8) fail(RWKVX_ERR_FORMAT, "%s is truncated (%zu bytes)", what_, n_);
    uint64_t stored;
    std::memcpy(&stored, p_ + n_ - 8, 8);
    n_ -= 8;
    if (stored != fnv1a(p_, n_)) fail(RWKVX_ERR_FORMAT, "%s is corrupt (checksum mismatch)", what_);
  }
  const uint8_t* take(size_t n) {
    if (n > n_ - off_) fail(RWKVX_ERR_FORMAT, "%s is truncated", what_);
    const uint8_t* p = p_ + off_;
    off_ += n;
    return p;
  }
  void read(void* dst, size_t n) { std::memcpy(dst, take(n), n); }
  void expect_magic(const char* m) {
    if (std::memcmp(take(8), m, 8) != 0) fail(RWKVX_ERR_FORMAT, "%s has the wrong magic (not a %.8s blob)", what_, m);
  }
  uint8_t u8() { uint8_t v; read(&v, 1); return v; }
  uint32_t u32() { uint32_t v; read(&v, 4); return v; }
  uint64_t u64() { uint64_t v; read(&v, 8); return v; }
  int64_t i64() { int64_t v; read(&v, 8); return v; }
  std::vector<float> floats() {
    const uint64_t n = u64();
    if (n > (n_ - off_) / 4) fail(RWKVX_ERR_FORMAT, "%s is truncated", what_);
    std::vector<float> v(static_cast<size_t>(n));
    read(v.data(), v.size() * 4);
    return v;
  }
  void expect_end() {
    if (off_ != n_) fail(RWKVX_ERR_FORMAT, "%s has %zu trailing bytes", what_, n_ - off_);
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t off_ = 0;
  const char* what_;
};

}  // namespace rwkvx

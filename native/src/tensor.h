// Tensor element types (ggml's numbering, as stored in GGUF) and a read-only
// view of a tensor's bytes (usually inside the mapped model file).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rwkvx {

enum class DType : uint32_t { F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30 };

constexpr int kQ8Block = 32;  // Q8_0: blocks of 32 int8 with one fp16 scale (34 bytes)

const char* dtype_name(DType t);
bool dtype_known(uint32_t raw);
// Bytes of a row of n elements (n must be a multiple of 32 for Q8_0).
size_t dtype_row_bytes(DType t, int64_t n);

struct TensorView {
  std::string name;
  DType type = DType::F32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ggml order: ne[0] is the contiguous dimension
  const uint8_t* data = nullptr;
  size_t nbytes = 0;

  int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t cols() const { return ne[0]; }                   // inner (contiguous) size
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }   // outer size
  size_t row_bytes() const { return dtype_row_bytes(type, ne[0]); }
  const uint8_t* row(int64_t i) const { return data + row_bytes() * static_cast<size_t>(i); }
};

}  // namespace rwkvx

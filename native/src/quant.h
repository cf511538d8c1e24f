// Element conversions between the stored types and fp32.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor.h"

namespace rwkvx {

#pragma pack(push, 1)
struct BlockQ8 {
  uint16_t d;          // fp16 scale
  int8_t qs[kQ8Block];
};
#pragma pack(pop)
static_assert(sizeof(BlockQ8) == 34, "Q8_0 block is 34 bytes");

// n elements of a row of type t → fp32.
void dequantize_row(DType t, const uint8_t* src, float* dst, int64_t n);
void quantize_row_q8_0(const float* src, BlockQ8* dst, int64_t n);
// fp32 row → bytes of type t (n must be a multiple of 32 for Q8_0).
std::vector<uint8_t> encode_row(DType t, const float* src, int64_t n);
// Whole tensor → fp32 (rows × cols).
std::vector<float> tensor_to_f32(const TensorView& t);

}  // namespace rwkvx

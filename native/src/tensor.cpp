#include "tensor.h"

#include <cmath>
#include <cstring>

#include "error.h"
#include "half.h"
#include "quant.h"

namespace rwkvx {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::Q8_0: return "Q8_0";
    case DType::BF16: return "BF16";
  }
  return "?";
}

bool dtype_known(uint32_t raw) {
  return raw == 0 || raw == 1 || raw == 8 || raw == 30;
}

size_t dtype_row_bytes(DType t, int64_t n) {
  switch (t) {
    case DType::F32: return static_cast<size_t>(n) * 4;
    case DType::F16:
    case DType::BF16: return static_cast<size_t>(n) * 2;
    case DType::Q8_0: return static_cast<size_t>(n / kQ8Block) * sizeof(BlockQ8);
  }
  return 0;
}

void dequantize_row(DType t, const uint8_t* src, float* dst, int64_t n) {
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case DType::F16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
      return;
    }
    case DType::BF16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::Q8_0: {
      const BlockQ8* b = reinterpret_cast<const BlockQ8*>(src);
      for (int64_t i = 0; i < n / kQ8Block; ++i) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < kQ8Block; ++j) dst[i * kQ8Block + j] = d * b[i].qs[j];
      }
      return;
    }
  }
  fail(RWKVX_ERR_UNSUPPORTED, "dequantize: unsupported type %u", static_cast<unsigned>(t));
}

void quantize_row_q8_0(const float* src, BlockQ8* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQ8Block; ++i) {
    float amax = 0.f;
    for (int j = 0; j < kQ8Block; ++j) amax = std::fmax(amax, std::fabs(src[i * kQ8Block + j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    dst[i].d = f32_to_fp16(d);
    for (int j = 0; j < kQ8Block; ++j) {
      dst[i].qs[j] = static_cast<int8_t>(std::lround(src[i * kQ8Block + j] * id));
    }
  }
}

std::vector<uint8_t> encode_row(DType t, const float* src, int64_t n) {
  std::vector<uint8_t> out(dtype_row_bytes(t, n));
  switch (t) {
    case DType::F32:
      std::memcpy(out.data(), src, out.size());
      break;
    case DType::F16: {
      uint16_t* d = reinterpret_cast<uint16_t*>(out.data());
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(src[i]);
      break;
    }
    case DType::BF16: {
      uint16_t* d = reinterpret_cast<uint16_t*>(out.data());
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      break;
    }
    case DType::Q8_0:
      if (n % kQ8Block != 0) fail(RWKVX_ERR_SHAPE, "Q8_0 needs rows that are a multiple of 32, got %lld", static_cast<long long>(n));
      quantize_row_q8_0(src, reinterpret_cast<BlockQ8*>(out.data()), n);
      break;
  }
  return out;
}

std::vector<float> tensor_to_f32(const TensorView& t) {
  std::vector<float> out(static_cast<size_t>(t.nelements()));
  for (int64_t r = 0; r < t.rows(); ++r) dequantize_row(t.type, t.row(r), out.data() + r * t.cols(), t.cols());
  return out;
}

}  // namespace rwkvx

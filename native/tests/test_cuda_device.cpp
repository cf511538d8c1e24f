// Device selection through the C ABI, on any machine: without a usable GPU,
// AUTO falls back to the CPU and says why in device_note, and an explicit CUDA
// request fails with RWKVX_ERR_DEVICE (RWKVX_ERR_UNSUPPORTED in a build
// without the backend); with one, AUTO takes it. This runs in CI.
#include <cstring>
#include <string>

#include "model_fixtures.h"
#include "rwkvx.h"
#include "testing.h"
#if RWKVX_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace {

bool gpu_present() {
#if RWKVX_CUDA
  return rwkvx::cuda::probe(0).ok;
#else
  return false;
#endif
}

}  // namespace

TEST(auto_device_falls_back_or_takes_the_gpu) {
  rwkvx_model* m = nullptr;
  rwkvx_model_params p = rwkvx_model_default_params();
  REQUIRE(rwkvx_model_load(fixtures::rwkv7_f32().c_str(), &p, &m) == RWKVX_OK);
  rwkvx_model_info info;
  REQUIRE(rwkvx_model_get_info(m, &info) == RWKVX_OK);
  std::printf("  device: %s | note: %s\n", info.device, info.device_note);
  if (gpu_present()) {
    CHECK(std::strstr(info.device, "(cuda:0)") != nullptr);
  } else {
    CHECK(std::strncmp(info.device, "CPU", 3) == 0);
    CHECK(std::strlen(info.device_note) > 0);
#if RWKVX_CUDA
    CHECK(std::strstr(info.device_note, "no usable GPU") != nullptr);
#endif
  }
  // the model works whichever device it got
  rwkvx_session* s = nullptr;
  REQUIRE(rwkvx_session_new(m, nullptr, &s) == RWKVX_OK);
  std::vector<float> logits(static_cast<size_t>(info.n_vocab));
  CHECK(rwkvx_session_decode(s, 1, logits.data()) == RWKVX_OK);
  rwkvx_session_free(s);
  rwkvx_model_free(m);
  CHECK(std::strstr(rwkvx_build_info(), "backends: cpu") != nullptr);
}

TEST(explicit_cuda_without_a_gpu_is_a_clear_error) {
  if (gpu_present()) return;  // covered by test_cuda_model on the GPU machine
  rwkvx_model* m = nullptr;
  rwkvx_model_params p = rwkvx_model_default_params();
  p.device = RWKVX_DEVICE_CUDA;
  const rwkvx_status st = rwkvx_model_load(fixtures::rwkv7_f32().c_str(), &p, &m);
  std::printf("  cuda:0 -> %s: %s\n", rwkvx_status_name(st), rwkvx_last_error());
#if RWKVX_CUDA
  CHECK(st == RWKVX_ERR_DEVICE);
  CHECK(std::strstr(rwkvx_last_error(), "no usable GPU") != nullptr);
#else
  CHECK(st == RWKVX_ERR_UNSUPPORTED);
#endif
  CHECK(m == nullptr);
}

TEST_MAIN

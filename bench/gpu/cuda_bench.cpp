// rwkvx-cuda-bench: the engine on the GPU through the C ABI, beside the
// machine's measured ceilings. For each random model of an official shape it
// prefills up to each context length (4K, 64K, 128K, 1M tokens), timing the
// prefill, and at each point decodes on a fork, timing the decode. Printed
// with ratios: decode ÷ (copy bandwidth ÷ bytes read per token) and prefill
// FLOP/s ÷ the measured GEMM rates. Not a test; figures go to docs/benchmarks.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_ops.h"
#include "random_model.h"
#include "rwkvx.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "rwkvx-cuda-bench: %s\n", m.c_str());
  std::exit(1);
}

void check(rwkvx_status st, const char* what) {
  if (st != RWKVX_OK) die(std::string(what) + ": " + rwkvx_status_name(st) + ": " + rwkvx_last_error());
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');)
    if (!x.empty()) out.push_back(x);
  return out;
}

struct Row {
  std::string shape;
  int64_t ctx;
  double prefill_tps, decode_tps, decode_bound_tps, prefill_flops;
  bool ok;
  std::string note;
};

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0) die(std::string("unexpected ") + argv[i]);
    opt[argv[i] + 2] = argv[i + 1];
  }
  auto get = [&](const char* k, const char* d) { return opt.count(k) ? opt[k] : std::string(d); };
  const std::vector<std::string> shapes = split(get("shapes", "0.1b,x0.22b,1.5b,2.9b"));
  std::vector<int64_t> contexts;
  for (const auto& c : split(get("contexts", "4096,65536,131072,1048576"))) contexts.push_back(std::atoll(c.c_str()));
  const int n_decode = std::atoi(get("decode", "128").c_str());
  const std::string dir = get("dir", "/tmp");
  const std::string type = get("type", "f16");
  const double budget = std::atof(get("budget-s", "360").c_str());
  const std::string tsv = get("out", "");
  // the prefill matrix path: own | cublas | auto (the engine's default: cuBLAS where found)
  std::string gemm = get("gemm", "auto");
  if (gemm == "cublas" && !rwkvx::cuda::set_cublas_gemm(true)) die("--gemm cublas: cuBLAS not available");
  if (gemm == "own") rwkvx::cuda::set_cublas_gemm(false);
  if (gemm == "auto") gemm = rwkvx::cuda::set_cublas_gemm(true) ? "cublas (auto)" : "own (auto: no cuBLAS)";
  const double t_start = now();

  const rwkvx::cuda::Probe pr = rwkvx::cuda::probe(0);
  if (!pr.ok) die("no usable GPU: " + pr.why);
  char date[64];
  const std::time_t tt = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&tt));
  std::printf("GPU: %s (sm_%d%d, %d SMs, %.1f GB), %s\nengine: %s; prefill GEMM: %s\n", pr.name.c_str(), pr.cc_major,
              pr.cc_minor, pr.sm_count, pr.total_bytes / 1e9, date, rwkvx_build_info(), gemm.c_str());
  const double bw = rwkvx::cuda::measure_copy_bandwidth(size_t(1) << 30);
  const double own = rwkvx::cuda::measure_gemm_rate(8192, 8192, 8192);
  std::string why;
  const double cublas = rwkvx::cuda::measure_cublas_rate(8192, 8192, 8192, &why);
  std::printf("device-to-device copy: %.0f GB/s (read + write)\n", bw / 1e9);
  std::printf("bf16 GEMM 8192^3: own mma.sync kernel %.0f TFLOP/s; cuBLAS %s\n", own / 1e12,
              cublas > 0 ? (std::to_string(static_cast<int>(cublas / 1e12)) + " TFLOP/s").c_str() : why.c_str());
  const double gemm_peak = std::max(own, cublas);
  std::fflush(stdout);

  std::vector<Row> rows;
  for (const std::string& shape : shapes) {
    rwkvx::RandomModelShape s;
    if (!rwkvx::random_model_shape(shape, s)) die("unknown shape " + shape);
    s.matrix_type = type == "q8_0" ? rwkvx::DType::Q8_0 : type == "bf16" ? rwkvx::DType::BF16 : rwkvx::DType::F16;
    const std::string path = dir + "/rwkvx-bench-" + shape + "-" + type + ".gguf";
    if (!std::ifstream(path).good()) {
      std::printf("writing %s ...\n", path.c_str());
      std::fflush(stdout);
      rwkvx::write_random_model(path, s);
    }
    rwkvx_model_params mp = rwkvx_model_default_params();
    mp.device = RWKVX_DEVICE_CUDA;
    rwkvx_model* m = nullptr;
    check(rwkvx_model_load(path.c_str(), &mp, &m), "load");
    rwkvx_model_info info;
    check(rwkvx_model_get_info(m, &info), "info");
    std::printf("\n%s: %s | %s\n", shape.c_str(), info.device, info.device_note);
    rwkvx_session_params sp = rwkvx_session_default_params();
    sp.n_ctx = contexts.back() + n_decode + 16;
    sp.kv_type = RWKVX_KV_F16;
    rwkvx_session* sess = nullptr;
    check(rwkvx_session_new(m, &sp, &sess), "session");
    const double C = info.n_embd, V = info.n_vocab;
    const double eb = s.matrix_type == rwkvx::DType::Q8_0 ? 34.0 / 32 : 2.0;
    // Bytes a decode step must read: every matrix once but one embedding row,
    // the state read and written; for attention, top-k chunks of keys and values.
    const double base_bytes = info.weight_bytes - V * C * eb + 2.0 * info.state_bytes;
    const double flops_per_token = 2.0 * (static_cast<double>(info.n_params) - 2.0 * V * C);
    std::vector<int32_t> toks((1 << 16) + 8);  // prefill reads up to 2^16 from an offset < 8
    for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int32_t>(1 + (i * 7919 + 13) % (info.n_vocab - 1));
    // warm-up: module load, workspace, graph
    check(rwkvx_session_prefill(sess, toks.data(), 4096, nullptr, nullptr, nullptr), "prefill");
    std::vector<float> logits(static_cast<size_t>(info.n_vocab));
    for (int i = 0; i < 4; ++i) check(rwkvx_session_decode(sess, toks[static_cast<size_t>(i)], logits.data()), "decode");
    check(rwkvx_session_reset(sess), "reset");
    int64_t done = 0;
    double t_prefill = 0;
    for (int64_t ctx : contexts) {
      Row r{shape, ctx, 0, 0, 0, flops_per_token, false, ""};
      if (now() - t_start > budget) {
        r.note = "skipped: time budget";
        rows.push_back(r);
        continue;
      }
      while (done < ctx) {
        if (now() - t_start > budget) {
          r.note = "stopped at " + std::to_string(done) + " tokens: time budget";
          break;
        }
        const int64_t n = std::min<int64_t>(ctx - done, int64_t(1) << 16);
        const double t0 = now();
        const rwkvx_status st = rwkvx_session_prefill(sess, toks.data() + (done % 7), static_cast<size_t>(n), nullptr,
                                                      nullptr, nullptr);
        t_prefill += now() - t0;
        if (st != RWKVX_OK) {
          r.note = std::string("prefill: ") + rwkvx_last_error();
          break;
        }
        done += n;
      }
      if (done < ctx) {
        rows.push_back(r);
        break;
      }
      r.prefill_tps = done / t_prefill;
      rwkvx_session* f = nullptr;
      check(rwkvx_session_fork(sess, &f), "fork");
      for (int i = 0; i < 8; ++i) check(rwkvx_session_decode(f, toks[static_cast<size_t>(i)], logits.data()), "decode");
      const double t0 = now();
      for (int i = 0; i < n_decode; ++i) check(rwkvx_session_decode(f, toks[static_cast<size_t>(i)], logits.data()), "decode");
      r.decode_tps = n_decode / (now() - t0);
      rwkvx_session_free(f);
      double bytes = base_bytes;
      if (info.n_attn_layer > 0) {
        const double B = info.attn_chunk_size;
        const double keys = std::min<double>(ctx, (info.attn_top_k - 1) * B + B / 2);
        bytes += info.n_attn_layer * keys * C * 2 * 2 + info.n_attn_layer * (ctx / B) * C * 4;
      }
      r.decode_bound_tps = bw / bytes;
      r.ok = true;
      rows.push_back(r);
      std::printf("  %8lld tokens: prefill %10.0f tok/s (%.2f of GEMM peak), decode %8.1f tok/s (%.2f of bandwidth bound %.0f)\n",
                  (long long)ctx, r.prefill_tps, r.prefill_tps * flops_per_token / gemm_peak, r.decode_tps,
                  r.decode_tps / r.decode_bound_tps, r.decode_bound_tps);
      std::fflush(stdout);
    }
    rwkvx_session_free(sess);
    rwkvx_model_free(m);
  }

  std::printf("\n%-7s %8s %12s %9s %9s %11s %9s %8s  %s\n", "model", "context", "prefill t/s", "pf/own", "pf/cublas",
              "decode t/s", "bound", "dec/bnd", "note");
  std::FILE* out = tsv.empty() ? nullptr : std::fopen(tsv.c_str(), "w");
  if (out) std::fprintf(out, "gpu\t%s\ndate\t%s\ncopy_GBps\t%.1f\nown_gemm_TFLOPs\t%.1f\ncublas_gemm_TFLOPs\t%.1f\n", pr.name.c_str(), date, bw / 1e9, own / 1e12, cublas / 1e12);
  for (const Row& r : rows) {
    const double pf = r.prefill_tps * r.prefill_flops;
    std::printf("%-7s %8lld %12.0f %9.2f %9s %11.1f %9.0f %8.2f  %s\n", r.shape.c_str(), (long long)r.ctx, r.prefill_tps,
                pf / own, cublas > 0 ? std::to_string(pf / cublas).substr(0, 4).c_str() : "-", r.decode_tps,
                r.decode_bound_tps, r.decode_bound_tps > 0 ? r.decode_tps / r.decode_bound_tps : 0.0, r.note.c_str());
    if (out)
      std::fprintf(out, "%s\t%lld\t%.1f\t%.1f\t%.1f\t%s\n", r.shape.c_str(), (long long)r.ctx, r.prefill_tps, r.decode_tps,
                   r.decode_bound_tps, r.note.c_str());
  }
  if (out) std::fclose(out);
  // The goals in their own terms.
  for (const std::string& shape : shapes) {
    const Row* a = nullptr;
    const Row* b = nullptr;
    for (const Row& r : rows)
      if (r.shape == shape && r.ok) {
        if (r.ctx == contexts.front()) a = &r;
        b = &r;
      }
    if (a && b && b != a)
      std::printf("%s: %lld tokens read in %.1f s; decode at %lld tokens %.2fx slower than at %lld\n", shape.c_str(),
                  (long long)b->ctx, b->ctx / b->prefill_tps, (long long)b->ctx, a->decode_tps / b->decode_tps,
                  (long long)a->ctx);
  }
  return 0;
}

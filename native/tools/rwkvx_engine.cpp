// rwkvx-engine: the engine's own command line, with no Node: probes (info,
// tokenize, logits, generate, convert), random models and the benchmark. Used
// on machines without Node (the GPU machine) and by bench/engine.js.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "hw_probe.h"
#include "random_model.h"
#include "rwkvx.h"
#include "threadpool.h"

namespace {

struct Args {
  std::vector<std::string> pos;
  std::map<std::string, std::string> opt;
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = opt.find(k);
    return it == opt.end() ? def : it->second;
  }
  bool has(const std::string& k) const { return opt.count(k) != 0; }
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      const std::string key = s.substr(2);
      if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) a.opt[key] = argv[++i];
      else a.opt[key] = "1";
    } else {
      a.pos.push_back(s);
    }
  }
  return a;
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "rwkvx-engine: %s\n", msg.c_str());
  std::exit(1);
}

void check(rwkvx_status st, const char* what) {
  if (st != RWKVX_OK) die(std::string(what) + ": " + rwkvx_status_name(st) + ": " + rwkvx_last_error());
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

rwkvx_model* load(const Args& a) {
  if (!a.has("model")) die("--model is required");
  rwkvx_model_params p = rwkvx_model_default_params();
  p.n_threads = std::atoi(a.get("threads", "0").c_str());
  const std::string dev = a.get("device", "auto");
  if (dev == "cpu") p.device = RWKVX_DEVICE_CPU;
  else if (dev.rfind("cuda", 0) == 0) {
    p.device = RWKVX_DEVICE_CUDA;
    if (dev.size() > 5) p.device_index = std::atoi(dev.c_str() + 5);
  }
  rwkvx_model* m = nullptr;
  check(rwkvx_model_load(a.get("model").c_str(), &p, &m), "load");
  return m;
}

std::vector<int32_t> tokenize(rwkvx_model* m, const std::string& text) {
  size_t n = 0;
  check(rwkvx_tokenize(m, text.data(), text.size(), nullptr, 0, &n), "tokenize");
  std::vector<int32_t> ids(n);
  check(rwkvx_tokenize(m, text.data(), text.size(), ids.data(), n, &n), "tokenize");
  return ids;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) die("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_npy(const std::string& path, const std::vector<float>& data, size_t rows, size_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  if (!f) die("cannot write " + path);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t hl = static_cast<uint16_t>(header.size());
  f.write(reinterpret_cast<const char*>(&hl), 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * 4));
  if (!f) die("write failed: " + path);
}

int cmd_info(const Args& a) {
  rwkvx_model* m = load(a);
  rwkvx_model_info i;
  check(rwkvx_model_get_info(m, &i), "info");
  std::printf("architecture %s\nname %s\nn_embd %d\nn_layer %d\nn_attn_layer %d\nn_head %d\nn_ffn %d\nn_vocab %d\n"
              "attn_chunk_size %d\nattn_top_k %d\nn_params %lld\nweight_bytes %llu\nstate_bytes %llu\n"
              "kv_bytes_per_token %llu\ndevice %s\ndevice_note %s\nbuild %s\n",
              i.architecture, i.name, i.n_embd, i.n_layer, i.n_attn_layer, i.n_head, i.n_ffn, i.n_vocab,
              i.attn_chunk_size, i.attn_top_k, (long long)i.n_params, (unsigned long long)i.weight_bytes,
              (unsigned long long)i.state_bytes, (unsigned long long)i.kv_bytes_per_token, i.device, i.device_note,
              rwkvx_build_info());
  rwkvx_model_free(m);
  return 0;
}

int cmd_tokenize(const Args& a) {
  rwkvx_model* m = load(a);
  const std::string text = a.has("file") ? read_file(a.get("file")) : a.get("text");
  const std::vector<int32_t> ids = tokenize(m, text);
  for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
  std::printf("\n");
  rwkvx_model_free(m);
  return 0;
}

int cmd_logits(const Args& a) {
  rwkvx_model* m = load(a);
  std::vector<int32_t> toks;
  std::stringstream ss(a.get("tokens"));
  for (long v; ss >> v;) toks.push_back(static_cast<int32_t>(v));
  if (toks.empty()) die("--tokens must list at least one token id");
  rwkvx_model_info info;
  check(rwkvx_model_get_info(m, &info), "info");
  rwkvx_session_params sp = rwkvx_session_default_params();
  sp.prefill_chunk = std::atoi(a.get("chunk", "0").c_str());
  const std::string kv = a.get("kv", "f16");
  if (kv != "f16" && kv != "f32") die("--kv must be f16 or f32");
  sp.kv_type = kv == "f32" ? RWKVX_KV_F32 : RWKVX_KV_F16;
  rwkvx_session* s = nullptr;
  check(rwkvx_session_new(m, &sp, &s), "session");
  std::vector<float> out(toks.size() * static_cast<size_t>(info.n_vocab));
  check(rwkvx_session_prefill_all_logits(s, toks.data(), toks.size(), out.data()), "logits");
  write_npy(a.get("out", "logits.npy"), out, toks.size(), static_cast<size_t>(info.n_vocab));
  rwkvx_session_free(s);
  rwkvx_model_free(m);
  return 0;
}

int on_text(const char* text, size_t len, int32_t, void*) {
  std::fwrite(text, 1, len, stdout);
  std::fflush(stdout);
  return 0;
}

int cmd_generate(const Args& a) {
  rwkvx_model* m = load(a);
  rwkvx_session* s = nullptr;
  check(rwkvx_session_new(m, nullptr, &s), "session");
  std::vector<int32_t> prompt = tokenize(m, a.get("prompt"));
  if (prompt.empty()) prompt.push_back(0);
  check(rwkvx_session_prefill(s, prompt.data(), prompt.size(), nullptr, nullptr, nullptr), "prefill");
  rwkvx_sampler_params sp = rwkvx_sampler_default_params();
  sp.temperature = static_cast<float>(std::atof(a.get("temperature", "1.0").c_str()));
  sp.top_p = static_cast<float>(std::atof(a.get("top-p", "0.9").c_str()));
  sp.seed = std::strtoull(a.get("seed", "42").c_str(), nullptr, 10);
  rwkvx_sampler* smp = nullptr;
  check(rwkvx_sampler_new(m, &sp, &smp), "sampler");
  rwkvx_generate_params gp = rwkvx_generate_default_params();
  gp.max_tokens = std::atoi(a.get("max-tokens", "128").c_str());
  int n = 0;
  rwkvx_stop_reason why;
  check(rwkvx_generate(s, smp, &gp, on_text, nullptr, &n, &why), "generate");
  std::printf("\n");
  rwkvx_sampler_free(smp);
  rwkvx_session_free(s);
  rwkvx_model_free(m);
  return 0;
}

int cmd_convert(const Args& a) {
  if (a.pos.size() != 2) die("usage: convert IN OUT.gguf [--vocab FILE] [--quant q8_0] [--type f16|f32|bf16]");
  rwkvx_convert_params p = rwkvx_convert_default_params();
  const std::string vocab = a.get("vocab"), name = a.get("name");
  if (!vocab.empty()) p.vocab_path = vocab.c_str();
  if (!name.empty()) p.name = name.c_str();
  const std::string t = a.has("quant") ? a.get("quant") : a.get("type", "f16");
  if (t == "q8_0") p.type = RWKVX_CONVERT_Q8_0;
  else if (t == "f32") p.type = RWKVX_CONVERT_F32;
  else if (t == "bf16") p.type = RWKVX_CONVERT_BF16;
  else if (t != "f16") die("unknown type " + t);
  p.attn_chunk_size = std::atoi(a.get("attn-chunk", "0").c_str());
  p.attn_top_k = std::atoi(a.get("attn-top-k", "0").c_str());
  check(rwkvx_convert(a.pos[0].c_str(), a.pos[1].c_str(), &p), "convert");
  return 0;
}

rwkvx::DType parse_type(const std::string& t) {
  if (t == "f16") return rwkvx::DType::F16;
  if (t == "q8_0") return rwkvx::DType::Q8_0;
  if (t == "f32") return rwkvx::DType::F32;
  if (t == "bf16") return rwkvx::DType::BF16;
  die("unknown type " + t);
}

int cmd_random_model(const Args& a) {
  if (a.pos.size() != 2) die("usage: random-model SHAPE OUT.gguf [--type f16|q8_0|f32|bf16] [--vocab N]");
  rwkvx::RandomModelShape s;
  if (!rwkvx::random_model_shape(a.pos[0], s)) die("unknown shape " + a.pos[0] + " (0.1b, 0.4b, 1.5b, 2.9b, x0.22b)");
  s.matrix_type = parse_type(a.get("type", "f16"));
  if (a.has("vocab")) s.n_vocab = std::atoi(a.get("vocab").c_str());
  rwkvx::write_random_model(a.pos[1], s);
  return 0;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');)
    if (!x.empty()) out.push_back(x);
  return out;
}

// Benchmark: random models of official shapes; prefill and decode tok/s beside
// the machine's measured bandwidth and FMA peak.
int cmd_bench(const Args& a) {
  const int threads = std::atoi(a.get("threads", "0").c_str());
  const int n_threads = threads > 0 ? threads : rwkvx::default_thread_count();
  rwkvx::ThreadPool pool(n_threads);
  const double bw = rwkvx::measure_read_bandwidth(pool);
  const char* level = "";
  const double peak = rwkvx::measure_peak_flops(pool, &level);
  std::printf("machine: %d threads, read bandwidth %.1f GB/s, peak fp32 FMA %.1f GFLOP/s (%s)\n", n_threads, bw / 1e9,
              peak / 1e9, level);
  std::printf("engine: %s\n", rwkvx_build_info());
  const int n_prefill = std::atoi(a.get("prefill", "512").c_str());
  const int n_decode = std::atoi(a.get("decode", "64").c_str());
  const std::string dir = a.get("dir", "/tmp");
  std::printf("\n%-8s %-5s %10s %12s %12s %10s %12s %12s\n", "model", "type", "weights MB", "prefill t/s",
              "prefill/peak", "decode t/s", "MB/token", "decode/bound");
  for (const std::string& shape : split(a.get("shapes", "0.1b,0.4b,x0.22b")))
    for (const std::string& type : split(a.get("types", "f16,q8_0"))) {
      rwkvx::RandomModelShape s;
      if (!rwkvx::random_model_shape(shape, s)) die("unknown shape " + shape);
      s.matrix_type = parse_type(type);
      const std::string path = dir + "/rwkvx-bench-" + shape + "-" + type + ".gguf";
      if (!std::ifstream(path).good()) rwkvx::write_random_model(path, s);
      Args la;
      la.opt["model"] = path;
      la.opt["threads"] = std::to_string(n_threads);
      la.opt["device"] = "cpu";
      rwkvx_model* m = load(la);
      rwkvx_model_info info;
      check(rwkvx_model_get_info(m, &info), "info");
      rwkvx_session* sess = nullptr;
      check(rwkvx_session_new(m, nullptr, &sess), "session");
      std::vector<int32_t> toks(static_cast<size_t>(n_prefill));
      for (int i = 0; i < n_prefill; ++i) toks[static_cast<size_t>(i)] = 1 + (i * 7919) % 255;
      std::vector<float> logits(static_cast<size_t>(info.n_vocab));
      // warm-up: page the weights in
      check(rwkvx_session_prefill(sess, toks.data(), 16, nullptr, nullptr, nullptr), "prefill");
      check(rwkvx_session_reset(sess), "reset");
      double t0 = now();
      check(rwkvx_session_prefill(sess, toks.data(), toks.size(), logits.data(), nullptr, nullptr), "prefill");
      const double prefill_tps = n_prefill / (now() - t0);
      t0 = now();
      for (int i = 0; i < n_decode; ++i) check(rwkvx_session_decode(sess, toks[static_cast<size_t>(i)], logits.data()), "decode");
      const double decode_tps = n_decode / (now() - t0);
      // Bytes read per decoded token: every matrix once, but one embedding row.
      const double emb_bytes = static_cast<double>(info.n_vocab) * info.n_embd * (s.matrix_type == rwkvx::DType::Q8_0 ? 34.0 / 32 : s.matrix_type == rwkvx::DType::F32 ? 4 : 2);
      const double bytes_per_token = static_cast<double>(info.weight_bytes) - emb_bytes + static_cast<double>(info.state_bytes) * 2;
      // FLOPs per prefill token: 2 per matrix weight used; the embedding is a
      // lookup and the head runs once per prefill, so both are left out.
      const double flops_per_token = 2.0 * (static_cast<double>(info.n_params) - 2.0 * info.n_vocab * info.n_embd);
      std::printf("%-8s %-5s %10.1f %12.1f %12.3f %10.2f %12.1f %12.3f\n", shape.c_str(), type.c_str(),
                  info.weight_bytes / 1e6, prefill_tps, prefill_tps * flops_per_token / peak, decode_tps,
                  bytes_per_token / 1e6, decode_tps / (bw / bytes_per_token));
      std::fflush(stdout);
      rwkvx_session_free(sess);
      rwkvx_model_free(m);
    }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: rwkvx-engine <command> [options]\n"
                 "  info --model M\n"
                 "  tokenize --model M (--text S | --file F)\n"
                 "  logits --model M --tokens \"i j k\" --out F.npy [--chunk N] [--kv f16|f32]\n"
                 "  generate --model M --prompt S [--max-tokens N] [--temperature T] [--seed N]\n"
                 "  convert IN OUT.gguf [--vocab FILE] [--quant q8_0] [--type f16|f32|bf16]\n"
                 "  random-model SHAPE OUT.gguf [--type f16|q8_0]\n"
                 "  bench [--shapes 0.1b,0.4b,x0.22b] [--types f16,q8_0] [--prefill N] [--decode N] [--threads N]\n");
    return 2;
  }
  const std::string cmd = argv[1];
  const Args a = parse(argc, argv);
  if (cmd == "info") return cmd_info(a);
  if (cmd == "tokenize") return cmd_tokenize(a);
  if (cmd == "logits") return cmd_logits(a);
  if (cmd == "generate") return cmd_generate(a);
  if (cmd == "convert") return cmd_convert(a);
  if (cmd == "random-model") return cmd_random_model(a);
  if (cmd == "bench") return cmd_bench(a);
  die("unknown command " + cmd);
}

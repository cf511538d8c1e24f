/*
 * rwkvx.h — the engine's C ABI. The only header the Node addon (and any other
 * front end) may include. Opaque handles, POD parameter structs with
 * *_default_params() constructors, integer status codes plus last-error text.
 *
 * Thread-safety rule:
 *   - A model (rwkvx_model) is immutable after load and may be shared by any
 *     number of threads and sessions.
 *   - A session (rwkvx_session) and a snapshot are NOT thread-safe: at most one
 *     call may be in flight on a given session at a time (the caller
 *     serializes). Different sessions may be used concurrently from different
 *     threads, also when they share a model and share KV pages through fork.
 *   - rwkvx_session_abort() is the one exception: it may be called from any
 *     thread at any time; it makes the running call on that session return
 *     RWKVX_ERR_ABORTED at the next token or chunk boundary, leaving the
 *     session in a consistent state (the tokens processed so far are kept).
 *   - rwkvx_last_error() is per thread: it describes the last failing call made
 *     on the calling thread.
 *   - Handles must be freed exactly once; freeing a model while sessions that
 *     use it are alive is undefined: free sessions (and snapshots) first.
 */
#ifndef RWKVX_H
#define RWKVX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define RWKVX_API __declspec(dllexport)
#else
#define RWKVX_API __attribute__((visibility("default")))
#endif

#define RWKVX_ABI_VERSION 1

typedef enum rwkvx_status {
  RWKVX_OK = 0,
  RWKVX_ERR_INVALID_ARGUMENT = 1, /* null handle, bad parameter, token id out of range */
  RWKVX_ERR_IO = 2,               /* file cannot be opened, read, mapped or written */
  RWKVX_ERR_FORMAT = 3,           /* not a GGUF / .pth / .safetensors, truncated, corrupt */
  RWKVX_ERR_UNSUPPORTED = 4,      /* unknown architecture, tensor type, or feature */
  RWKVX_ERR_SHAPE = 5,            /* missing or mis-shaped tensor, inconsistent metadata */
  RWKVX_ERR_OUT_OF_MEMORY = 6,    /* host or device memory exhausted */
  RWKVX_ERR_ABORTED = 7,          /* stopped by rwkvx_session_abort or the abort callback */
  RWKVX_ERR_STATE_MISMATCH = 8,   /* snapshot/state blob from another model, or KV prefix gone */
  RWKVX_ERR_CONTEXT_FULL = 9,     /* session would exceed its n_ctx */
  RWKVX_ERR_DEVICE = 10,          /* backend/driver failure */
  RWKVX_ERR_INTERNAL = 11
} rwkvx_status;

/* Human-readable text for the last failing call on this thread ("" if none). */
RWKVX_API const char* rwkvx_last_error(void);
RWKVX_API const char* rwkvx_status_name(rwkvx_status status);
RWKVX_API int rwkvx_abi_version(void);
/* A line describing the build: version, SIMD level chosen at run time, backends. */
RWKVX_API const char* rwkvx_build_info(void);

typedef struct rwkvx_model rwkvx_model;
typedef struct rwkvx_session rwkvx_session;
typedef struct rwkvx_snapshot rwkvx_snapshot;

/* Return nonzero to abort the running call. Called at token/chunk boundaries,
 * on the thread that runs the call. */
typedef int (*rwkvx_abort_fn)(void* user_data);
/* Progress of long calls: done and total in the call's own unit (tokens,
 * bytes, tensors); return nonzero to abort. */
typedef int (*rwkvx_progress_fn)(uint64_t done, uint64_t total, void* user_data);

/* ---------------------------------------------------------------- model */

typedef enum rwkvx_device_kind {
  RWKVX_DEVICE_AUTO = 0, /* CUDA when a usable GPU is present, else CPU */
  RWKVX_DEVICE_CPU = 1,
  RWKVX_DEVICE_CUDA = 2
} rwkvx_device_kind;

typedef struct rwkvx_model_params {
  rwkvx_device_kind device;
  int device_index;   /* CUDA device ordinal for RWKVX_DEVICE_CUDA */
  int n_threads;      /* CPU threads; 0 = number of cores */
  int use_mmap;       /* 1: map the file (default); 0: read it into memory */
  rwkvx_progress_fn progress; /* optional, unit: tensors; called once the file is mapped and checked */
  void* progress_user_data;
} rwkvx_model_params;

RWKVX_API rwkvx_model_params rwkvx_model_default_params(void);
RWKVX_API rwkvx_status rwkvx_model_load(const char* path, const rwkvx_model_params* params,
                                        rwkvx_model** out_model);
RWKVX_API void rwkvx_model_free(rwkvx_model* model);

typedef struct rwkvx_model_info {
  char architecture[16];   /* "rwkv7" or "rwkvx" */
  char name[128];          /* general.name, may be empty */
  int n_embd;              /* C */
  int n_layer;             /* RWKV-7 blocks */
  int n_attn_layer;        /* RWKV-X attention blocks (0 for rwkv7) */
  int n_head;              /* C / head_size */
  int head_size;           /* 64 */
  int n_ffn;               /* F */
  int n_vocab;             /* rows of the embedding / head */
  int attn_chunk_size;     /* RWKV-X chunk size B (0 for rwkv7) */
  int attn_top_k;          /* RWKV-X top-k including the own chunk (0 for rwkv7) */
  int64_t n_params;
  uint64_t weight_bytes;   /* bytes of tensor data */
  uint64_t state_bytes;    /* bytes of one RWKV recurrent state (excludes KV cache) */
  uint64_t kv_bytes_per_token; /* KV cache bytes added per token (0 for rwkv7) */
  int64_t train_context_length;
  char device[96];         /* "CPU (AVX2+FMA, 2 threads)" or the GPU's name */
  char device_note[256];   /* why AUTO chose what it chose, e.g. no driver */
} rwkvx_model_info;

RWKVX_API rwkvx_status rwkvx_model_get_info(const rwkvx_model* model, rwkvx_model_info* out);
/* Metadata string value by GGUF key (e.g. "tokenizer.chat_template"); returns
 * RWKVX_ERR_INVALID_ARGUMENT if the key is absent or not a string. *out stays
 * valid while the model lives. */
RWKVX_API rwkvx_status rwkvx_model_meta_str(const rwkvx_model* model, const char* key,
                                            const char** out);

/* ------------------------------------------------------------ tokenizer */

/* Encode UTF-8 (or arbitrary bytes) with greedy longest match. If `tokens` is
 * NULL or capacity too small, *n_tokens receives the required count and the
 * call returns RWKVX_ERR_INVALID_ARGUMENT only when tokens != NULL. */
RWKVX_API rwkvx_status rwkvx_tokenize(const rwkvx_model* model, const char* text, size_t len,
                                      int32_t* tokens, size_t capacity, size_t* n_tokens);
/* Bytes of one token (may be part of a UTF-8 sequence). *out valid while the model lives. */
RWKVX_API rwkvx_status rwkvx_token_bytes(const rwkvx_model* model, int32_t token,
                                         const char** out, size_t* len);

/* Streaming detokenizer: pushes token bytes, emits only complete UTF-8.
 * Invalid sequences are emitted as U+FFFD once they are known to be invalid. */
typedef struct rwkvx_detok rwkvx_detok;
RWKVX_API rwkvx_status rwkvx_detok_new(const rwkvx_model* model, rwkvx_detok** out);
/* Appends the text that became complete after `token` to *out (valid until the
 * next call on this detokenizer). */
RWKVX_API rwkvx_status rwkvx_detok_push(rwkvx_detok* d, int32_t token, const char** out,
                                        size_t* len);
/* Emits whatever is held back (as U+FFFD for an incomplete tail) and resets. */
RWKVX_API rwkvx_status rwkvx_detok_flush(rwkvx_detok* d, const char** out, size_t* len);
RWKVX_API void rwkvx_detok_free(rwkvx_detok* d);

/* -------------------------------------------------------------- session */

typedef enum rwkvx_kv_type {
  RWKVX_KV_F32 = 0,
  RWKVX_KV_F16 = 1
} rwkvx_kv_type;

typedef struct rwkvx_session_params {
  int64_t n_ctx;          /* max tokens in the session, for rwkv7 too (feeding past it is
                             RWKVX_ERR_CONTEXT_FULL); 0 = 1M for rwkvx, unlimited for rwkv7 */
  rwkvx_kv_type kv_type;  /* KV cache element type (rwkvx only); default F16 */
  int prefill_chunk;      /* tokens per prefill step (matrix-product batch), 0 = default */
  rwkvx_abort_fn abort_callback;
  void* abort_user_data;
} rwkvx_session_params;

RWKVX_API rwkvx_session_params rwkvx_session_default_params(void);
RWKVX_API rwkvx_status rwkvx_session_new(rwkvx_model* model, const rwkvx_session_params* params,
                                         rwkvx_session** out);
RWKVX_API void rwkvx_session_free(rwkvx_session* s);
/* Thread-safe: asks the running call on `s` to stop (see the rule above). The
 * request is consumed when a call ends: an abort that arrives while no call is
 * running stops the next call at its first boundary. */
RWKVX_API void rwkvx_session_abort(rwkvx_session* s);
/* Forget everything: empty state, empty KV cache. */
RWKVX_API rwkvx_status rwkvx_session_reset(rwkvx_session* s);
/* Tokens processed so far (the KV length for rwkvx). */
RWKVX_API int64_t rwkvx_session_n_past(const rwkvx_session* s);

/* Feed many tokens (chunked prefill). If `logits` is not NULL it receives the
 * n_vocab logits after the last token. `progress` (optional, unit tokens) is
 * called between chunks. On abort the tokens of completed chunks are kept and
 * n_past says how many. */
RWKVX_API rwkvx_status rwkvx_session_prefill(rwkvx_session* s, const int32_t* tokens, size_t n,
                                             float* logits, rwkvx_progress_fn progress,
                                             void* progress_user_data);
/* Feed many tokens and write the logits after each one: out [n][n_vocab].
 * Used by probes and evaluation. */
RWKVX_API rwkvx_status rwkvx_session_prefill_all_logits(rwkvx_session* s, const int32_t* tokens,
                                                        size_t n, float* out);
/* Feed one token, write n_vocab logits. */
RWKVX_API rwkvx_status rwkvx_session_decode(rwkvx_session* s, int32_t token, float* logits);

/* Rewind an rwkvx session's KV cache to n tokens. The RWKV state cannot be
 * rewound by itself: pair with rwkvx_session_restore of a snapshot taken at n
 * (restore truncates for you). Truncating a pure rwkv7 session only changes
 * n_past bookkeeping and is only valid together with a restore. */
RWKVX_API rwkvx_status rwkvx_session_truncate(rwkvx_session* s, int64_t n);

/* A new session that continues from `s` exactly (copies the recurrent state;
 * shares the KV cache pages copy-on-write, so forking at 1M tokens is cheap). */
RWKVX_API rwkvx_status rwkvx_session_fork(rwkvx_session* s, rwkvx_session** out);

/* -------------------------------------------------------------- snapshots */

/* A snapshot holds the recurrent state at n_past and a hash of the token
 * prefix; it does not copy the KV cache. Restoring into a session (the same
 * one or a fork) whose token prefix of that length matches rewinds it there. */
RWKVX_API rwkvx_status rwkvx_snapshot_take(const rwkvx_session* s, rwkvx_snapshot** out);
RWKVX_API rwkvx_status rwkvx_snapshot_restore(rwkvx_session* s, const rwkvx_snapshot* snap);
RWKVX_API int64_t rwkvx_snapshot_n_past(const rwkvx_snapshot* snap);
RWKVX_API void rwkvx_snapshot_free(rwkvx_snapshot* snap);
/* Serialize a snapshot; bytes == NULL queries the size. */
RWKVX_API rwkvx_status rwkvx_snapshot_serialize(const rwkvx_snapshot* snap, uint8_t* bytes,
                                                size_t capacity, size_t* size);
/* Checks the blob's header against the model (fingerprint) and its integrity. */
RWKVX_API rwkvx_status rwkvx_snapshot_deserialize(const rwkvx_model* model, const uint8_t* bytes,
                                                  size_t size, rwkvx_snapshot** out);

/* Whole session (state + tokens + KV cache) to bytes and back, for
 * persistence. bytes == NULL queries the size. */
RWKVX_API rwkvx_status rwkvx_session_save(const rwkvx_session* s, uint8_t* bytes, size_t capacity,
                                          size_t* size);
RWKVX_API rwkvx_status rwkvx_session_load(rwkvx_session* s, const uint8_t* bytes, size_t size);

/* --------------------------------------------------------------- sampling */

typedef struct rwkvx_sampler_params {
  float temperature;        /* <= 0: greedy */
  int top_k;                /* 0 = off */
  float top_p;              /* 1 = off */
  float min_p;              /* 0 = off */
  float repetition_penalty; /* 1 = off; divides positive / multiplies negative logits */
  float presence_penalty;   /* 0 = off; subtracted once per token seen */
  float frequency_penalty;  /* 0 = off; subtracted per occurrence */
  int penalty_last_n;       /* window of recent tokens the penalties look at */
  uint64_t seed;
} rwkvx_sampler_params;

typedef struct rwkvx_sampler rwkvx_sampler;
RWKVX_API rwkvx_sampler_params rwkvx_sampler_default_params(void);
RWKVX_API rwkvx_status rwkvx_sampler_new(const rwkvx_model* model, const rwkvx_sampler_params* p,
                                         rwkvx_sampler** out);
RWKVX_API void rwkvx_sampler_free(rwkvx_sampler* smp);
/* Tell the sampler about a token that entered the context (for penalties). */
RWKVX_API void rwkvx_sampler_accept(rwkvx_sampler* smp, int32_t token);
/* Pick a token from logits (n_vocab). `logits` is not modified. */
RWKVX_API rwkvx_status rwkvx_sampler_sample(rwkvx_sampler* smp, const float* logits,
                                            int32_t* out_token);

/* ------------------------------------------------------------ generation */

typedef struct rwkvx_generate_params {
  int max_tokens;
  const char* const* stop_strings; /* may be NULL */
  size_t n_stop_strings;
  int stop_at_eos;                 /* stop on token 0 (default 1) */
} rwkvx_generate_params;

RWKVX_API rwkvx_generate_params rwkvx_generate_default_params(void);

/* Called with each piece of complete UTF-8 text; return nonzero to stop. */
typedef int (*rwkvx_text_fn)(const char* text, size_t len, int32_t token, void* user_data);

typedef enum rwkvx_stop_reason {
  RWKVX_STOP_MAX_TOKENS = 0,
  RWKVX_STOP_EOS = 1,
  RWKVX_STOP_STRING = 2,
  RWKVX_STOP_CALLBACK = 3,
  RWKVX_STOP_ABORTED = 4
} rwkvx_stop_reason;

/* Generate after the session's current context (the session must have at
 * least one token fed). Sampled tokens are fed into the session, also those
 * that complete a stop string (the caller may rewind with a snapshot). on_text
 * is called once per sampled token with the text that token completed (may be
 * empty: part of a UTF-8 character, or held back as a possible stop-string
 * prefix), then once with token -1 for held-back text at the end, if any.
 * Text that matches a stop string is not emitted. */
RWKVX_API rwkvx_status rwkvx_generate(rwkvx_session* s, rwkvx_sampler* smp,
                                      const rwkvx_generate_params* params, rwkvx_text_fn on_text,
                                      void* user_data, int* n_generated,
                                      rwkvx_stop_reason* stop_reason);

/* ------------------------------------------------------------ conversion */

typedef enum rwkvx_convert_type {
  RWKVX_CONVERT_F16 = 0,  /* matrices in F16 */
  RWKVX_CONVERT_Q8_0 = 1, /* matrices in Q8_0 */
  RWKVX_CONVERT_F32 = 2,
  RWKVX_CONVERT_BF16 = 3
} rwkvx_convert_type;

typedef struct rwkvx_convert_params {
  rwkvx_convert_type type;
  const char* vocab_path; /* World-format vocabulary; NULL = the default location is not assumed */
  const char* name;       /* general.name, may be NULL */
  int attn_chunk_size;    /* RWKV-X chunk size B written to the file; 0 = 2048 */
  int attn_top_k;         /* RWKV-X top-k (own chunk included); 0 = 3 */
  rwkvx_progress_fn progress; /* unit: tensors */
  void* progress_user_data;
} rwkvx_convert_params;

RWKVX_API rwkvx_convert_params rwkvx_convert_default_params(void);
/* Official RWKV-7 / RWKV-X .pth, fla-hub .safetensors (file or directory), or
 * a GGUF (re-quantize) → GGUF. Writes to a temporary file and renames. */
RWKVX_API rwkvx_status rwkvx_convert(const char* in_path, const char* out_path,
                                     const rwkvx_convert_params* params);

#ifdef __cplusplus
}
#endif

#endif /* RWKVX_H */

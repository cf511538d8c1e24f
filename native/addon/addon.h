// Shared pieces of the Node addon: owned engine handles, error helpers and the
// Promise-returning job base. The addon includes only the engine's C ABI.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rwkvx.h"

namespace addon {

// Engine handles are owned through shared_ptr so that a session (or a job in
// flight) keeps its model alive: the C ABI requires sessions, snapshots and
// samplers to be freed before their model. dispose() in JS only drops the
// wrapper's reference; the handle is freed when the last holder lets go.
struct ModelHandle {
  rwkvx_model* model;
  explicit ModelHandle(rwkvx_model* m) : model(m) {}
  ~ModelHandle() { rwkvx_model_free(model); }
  ModelHandle(const ModelHandle&) = delete;
  ModelHandle& operator=(const ModelHandle&) = delete;
};
using ModelRef = std::shared_ptr<ModelHandle>;

// A session or sampler admits one call at a time (the header's rule); `busy`
// is set on the JS thread when a job is queued and cleared when it settles.
struct SessionHandle {
  ModelRef model;
  rwkvx_session* session;
  std::atomic<bool> busy{false};
  // Set by abort(), cleared when a job is queued. The engine clears its own
  // abort flag when a call starts, so an abort() that lands between queueing
  // and the start would be lost; jobs check this flag before and during the
  // call (through their progress and text callbacks).
  std::atomic<bool> cancel{false};
  SessionHandle(ModelRef m, rwkvx_session* s) : model(std::move(m)), session(s) {}
  ~SessionHandle() { rwkvx_session_free(session); }
  SessionHandle(const SessionHandle&) = delete;
  SessionHandle& operator=(const SessionHandle&) = delete;
};
using SessionRef = std::shared_ptr<SessionHandle>;

struct SnapshotHandle {
  ModelRef model;
  rwkvx_snapshot* snapshot;
  SnapshotHandle(ModelRef m, rwkvx_snapshot* s) : model(std::move(m)), snapshot(s) {}
  ~SnapshotHandle() { rwkvx_snapshot_free(snapshot); }
  SnapshotHandle(const SnapshotHandle&) = delete;
  SnapshotHandle& operator=(const SnapshotHandle&) = delete;
};
using SnapshotRef = std::shared_ptr<SnapshotHandle>;

struct SamplerHandle {
  ModelRef model;
  rwkvx_sampler* sampler;
  std::atomic<bool> busy{false};
  SamplerHandle(ModelRef m, rwkvx_sampler* s) : model(std::move(m)), sampler(s) {}
  ~SamplerHandle() { rwkvx_sampler_free(sampler); }
  SamplerHandle(const SamplerHandle&) = delete;
  SamplerHandle& operator=(const SamplerHandle&) = delete;
};
using SamplerRef = std::shared_ptr<SamplerHandle>;

// Constructors of the wrapped classes, kept per environment (worker threads
// of Node each load their own instance).
struct InstanceData {
  Napi::FunctionReference model;
  Napi::FunctionReference session;
  Napi::FunctionReference snapshot;
  Napi::FunctionReference sampler;
};
InstanceData& Instance(Napi::Env env);

// ---------------------------------------------------------------- errors

// An Error whose `code` is the engine's status name and whose message is the
// engine's last-error text (captured on the thread that made the call).
Napi::Error StatusError(Napi::Env env, rwkvx_status status, const std::string& message);
// An Error with an addon-level code such as "ERR_DISPOSED" or "ERR_BUSY".
Napi::Error CodeError(Napi::Env env, const char* code, const std::string& message);
// Throws StatusError(status, rwkvx_last_error()) unless status is RWKVX_OK.
void Check(Napi::Env env, rwkvx_status status);
std::string LastError(rwkvx_status status);

// ------------------------------------------------------------- arguments

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what);
int64_t IntegerArg(const Napi::CallbackInfo& info, size_t i, const char* what);
// Token ids from an Int32Array, or any array of numbers.
std::vector<int32_t> TokensArg(const Napi::CallbackInfo& info, size_t i);
// Bytes from a Uint8Array / Buffer.
std::vector<uint8_t> BytesArg(const Napi::CallbackInfo& info, size_t i, const char* what);
Napi::Object OptionsArg(const Napi::CallbackInfo& info, size_t i);
// Optional properties of an options object (absent or undefined → fallback).
double NumberOpt(Napi::Object o, const char* key, double fallback);
bool BoolOpt(Napi::Object o, const char* key, bool fallback);
std::string StringOpt(Napi::Object o, const char* key, const std::string& fallback);
Napi::Function FunctionArg(const Napi::CallbackInfo& info, size_t i);  // empty if absent

// ------------------------------------------------------------------ jobs

struct ProgressEvent {
  uint64_t done = 0;
  uint64_t total = 0;
};

// A call run on the libuv thread pool that settles a Promise. Events sent
// from the worker thread reach OnEvent on the JS thread in order, and always
// before the Promise settles (node-addon-api finalizes the queue first).
template <class Event>
class Job : public Napi::AsyncProgressQueueWorker<Event> {
 public:
  using Progress = typename Napi::AsyncProgressQueueWorker<Event>::ExecutionProgress;

  explicit Job(Napi::Env env, const char* name)
      : Napi::AsyncProgressQueueWorker<Event>(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }
  void SetListener(Napi::Function fn) {
    if (!fn.IsEmpty()) listener_ = Napi::Persistent(fn);
  }

 protected:
  // Runs on the worker thread: returns the engine status of the call.
  virtual rwkvx_status Run(const Progress& progress) = 0;
  // Runs on the JS thread after success: the Promise's value.
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }
  // Runs on the JS thread for each event; calls the listener by default.
  virtual void Deliver(Napi::Env env, const Event& e) {}
  // Releases busy flags; runs on the JS thread before the Promise settles.
  virtual void Release() {}
  // Asks the running engine call to stop (a listener threw).
  virtual void Abort() {}
  // Extra fields for the rejection (e.g. nPast after an aborted prefill).
  virtual void Decorate(Napi::Error& e) {}

  Napi::FunctionReference listener_;
  // Run may set the failure text itself; otherwise the engine's last error.
  std::string message_;

 private:
  void Execute(const Progress& progress) override {
    status_ = Run(progress);
    if (status_ != RWKVX_OK) {
      if (message_.empty()) message_ = LastError(status_);
      this->SetError(message_);
    }
  }
  void OnProgress(const Event* data, size_t count) override {
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    for (size_t i = 0; i < count; ++i) {
      if (listenerError_) return;
      try {
        Deliver(env, data[i]);
      } catch (const Napi::Error& e) {
        // A throwing listener stops the call; its error becomes the rejection.
        listenerError_ = true;
        listenerErrorValue_ = Napi::Persistent(e.Value());
        Abort();
      }
    }
  }
  void OnOK() override {
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    Release();
    if (listenerError_) {
      deferred_.Reject(listenerErrorValue_.Value());
      return;
    }
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error&) override {
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    Release();
    if (listenerError_) {
      deferred_.Reject(listenerErrorValue_.Value());
      return;
    }
    Napi::Error e = StatusError(env, status_, message_);
    Decorate(e);
    deferred_.Reject(e.Value());
  }

  Napi::Promise::Deferred deferred_;
  rwkvx_status status_ = RWKVX_OK;
  bool listenerError_ = false;
  Napi::ObjectReference listenerErrorValue_;
};

// rwkvx_progress_fn forwarding to a job's event queue; user data is the
// job's `const Progress*` (unit as the engine reports it).
inline int ForwardProgress(uint64_t done, uint64_t total, void* user) {
  auto* progress = static_cast<const Job<ProgressEvent>::Progress*>(user);
  ProgressEvent e{done, total};
  progress->Send(&e, 1);
  return 0;
}

// ------------------------------------------------------------- classes

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, ModelRef ref);
  explicit Model(const Napi::CallbackInfo& info);
  // The live handle, or throws ERR_DISPOSED.
  const ModelRef& Ref(Napi::Env env) const;
  static Model* From(Napi::Env env, Napi::Value v);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value MetaString(const Napi::CallbackInfo& info);
  Napi::Value Tokenize(const Napi::CallbackInfo& info);
  Napi::Value TokenBytes(const Napi::CallbackInfo& info);
  Napi::Value Detokenize(const Napi::CallbackInfo& info);
  Napi::Value NewSession(const Napi::CallbackInfo& info);
  Napi::Value NewSampler(const Napi::CallbackInfo& info);
  Napi::Value DeserializeSnapshot(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);

  ModelRef ref_;
};

class Session : public Napi::ObjectWrap<Session> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, SessionRef ref);
  explicit Session(const Napi::CallbackInfo& info);
  ~Session() override;

 private:
  // The live handle, not busy; or throws ERR_DISPOSED / ERR_BUSY.
  const SessionRef& Idle(Napi::Env env) const;
  Napi::Value NPast(const Napi::CallbackInfo& info);
  Napi::Value Busy(const Napi::CallbackInfo& info);
  Napi::Value Prefill(const Napi::CallbackInfo& info);
  Napi::Value PrefillAllLogits(const Napi::CallbackInfo& info);
  Napi::Value Decode(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value Abort(const Napi::CallbackInfo& info);
  Napi::Value Reset(const Napi::CallbackInfo& info);
  Napi::Value Truncate(const Napi::CallbackInfo& info);
  Napi::Value Fork(const Napi::CallbackInfo& info);
  Napi::Value TakeSnapshot(const Napi::CallbackInfo& info);
  Napi::Value Restore(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);

  SessionRef ref_;
};

class Snapshot : public Napi::ObjectWrap<Snapshot> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, SnapshotRef ref);
  explicit Snapshot(const Napi::CallbackInfo& info);
  const SnapshotRef& Ref(Napi::Env env) const;
  static Snapshot* From(Napi::Env env, Napi::Value v);

 private:
  Napi::Value NPast(const Napi::CallbackInfo& info);
  Napi::Value Serialize(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);

  SnapshotRef ref_;
};

class Sampler : public Napi::ObjectWrap<Sampler> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, SamplerRef ref);
  explicit Sampler(const Napi::CallbackInfo& info);
  // The live handle, not busy; or throws.
  const SamplerRef& Idle(Napi::Env env) const;
  static Sampler* From(Napi::Env env, Napi::Value v);

 private:
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Sample(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);

  SamplerRef ref_;
};

// Module-level functions (addon.cc / convert.cc / model.cc).
Napi::Value LoadModel(const Napi::CallbackInfo& info);
Napi::Value Convert(const Napi::CallbackInfo& info);

}  // namespace addon

// Snapshot: the recurrent state at a token position; serialization is a job.
#include "addon.h"

namespace addon {

namespace {

class SerializeJob : public Job<ProgressEvent> {
 public:
  SerializeJob(Napi::Env env, SnapshotRef snap) : Job(env, "rwkvx.serializeSnapshot"), snap_(std::move(snap)) {}

 protected:
  rwkvx_status Run(const Progress&) override {
    size_t size = 0;
    rwkvx_status st = rwkvx_snapshot_serialize(snap_->snapshot, nullptr, 0, &size);
    if (st != RWKVX_OK) return st;
    bytes_.resize(size);
    st = rwkvx_snapshot_serialize(snap_->snapshot, bytes_.data(), bytes_.size(), &size);
    bytes_.resize(size);
    return st;
  }
  Napi::Value Result(Napi::Env env) override { return Napi::Buffer<uint8_t>::Copy(env, bytes_.data(), bytes_.size()); }

 private:
  SnapshotRef snap_;
  std::vector<uint8_t> bytes_;
};

}  // namespace

Napi::Function Snapshot::Define(Napi::Env env) {
  return DefineClass(env, "Snapshot",
                     {
                         InstanceAccessor<&Snapshot::NPast>("nPast"),
                         InstanceAccessor<&Snapshot::Disposed>("disposed"),
                         InstanceMethod<&Snapshot::Serialize>("serialize"),
                         InstanceMethod<&Snapshot::Dispose>("dispose"),
                     });
}

Napi::Object Snapshot::Wrap(Napi::Env env, SnapshotRef ref) {
  return Instance(env).snapshot.New({Napi::External<SnapshotRef>::New(env, &ref)});
}

Snapshot::Snapshot(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Snapshot>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw CodeError(info.Env(), "ERR_ILLEGAL_CONSTRUCTOR", "use session.snapshot() to create a Snapshot");
  ref_ = *info[0].As<Napi::External<SnapshotRef>>().Data();
}

const SnapshotRef& Snapshot::Ref(Napi::Env env) const {
  if (!ref_) throw CodeError(env, "ERR_DISPOSED", "the snapshot was disposed");
  return ref_;
}

Snapshot* Snapshot::From(Napi::Env env, Napi::Value v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(Instance(env).snapshot.Value()))
    throw CodeError(env, "ERR_INVALID_ARG_TYPE", "expected a Snapshot");
  return Snapshot::Unwrap(v.As<Napi::Object>());
}

Napi::Value Snapshot::NPast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, static_cast<double>(rwkvx_snapshot_n_past(Ref(env)->snapshot)));
}

Napi::Value Snapshot::Serialize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* job = new SerializeJob(env, Ref(env));
  Napi::Promise promise = job->Promise();
  job->Queue();
  return promise;
}

Napi::Value Snapshot::Dispose(const Napi::CallbackInfo& info) {
  ref_.reset();
  return info.Env().Undefined();
}

Napi::Value Snapshot::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !ref_); }

}  // namespace addon

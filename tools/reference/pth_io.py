"""Write and read checkpoint files without torch: the official `.pth` (torch zip
container + pickle) and `safetensors`, plus a bf16 helper and the mapping between
BlinkDL's official RWKV-7 names and the fla-hub (flash-linear-attention) names.

Only numpy and the standard library. Works with numpy 1.24 and 2.x.
"""
import collections
import contextlib
import io
import json
import os
import pickle
import re
import struct
import sys
import types
import zipfile
import zlib

import numpy as np

# ---------------------------------------------------------------------------
# bf16

def bf16_bits(x):
    """fp32 values -> bf16 bit patterns (uint16), round to nearest, ties to even.
    NaN stays NaN (quiet), +-inf stays inf."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    lsb = (u >> 16) & 1
    r = ((u + 0x7FFF + lsb) >> 16).astype(np.uint16)
    # keep NaN a NaN even when its payload sits in the low half only
    r = np.where(nan, ((u >> 16).astype(np.uint16) | np.uint16(0x0040)), r)
    return r.astype(np.uint16)


def bf16_to_f32(bits):
    """bf16 bit patterns (uint16) -> fp32 values (exact)."""
    b = np.ascontiguousarray(bits, dtype=np.uint16).astype(np.uint32) << 16
    return b.view(np.float32)


def round_bf16(x):
    """fp32 values rounded to the nearest bf16 value, returned as fp32."""
    return bf16_to_f32(bf16_bits(x)).reshape(np.shape(x))


# dtype name -> (torch storage class name, safetensors dtype, bytes per element)
DTYPES = {
    'bf16': ('BFloat16Storage', 'BF16', 2),
    'fp16': ('HalfStorage', 'F16', 2),
    'fp32': ('FloatStorage', 'F32', 4),
}
_STORAGE_TO_DTYPE = {v[0]: k for k, v in DTYPES.items()}
_ST_TO_DTYPE = {v[1]: k for k, v in DTYPES.items()}


def encode(arr, dtype):
    """numpy float array -> little-endian raw bytes in `dtype` (bf16/fp16/fp32)."""
    a = np.asarray(arr, dtype=np.float32)
    if dtype == 'bf16':
        return bf16_bits(a).astype('<u2').tobytes()
    if dtype == 'fp16':
        return a.astype('<f2').tobytes()
    if dtype == 'fp32':
        return a.astype('<f4').tobytes()
    raise ValueError('unknown dtype ' + dtype)


def decode(raw, dtype, count):
    """raw little-endian bytes -> float32 numpy array of `count` elements."""
    if dtype == 'bf16':
        return bf16_to_f32(np.frombuffer(raw, dtype='<u2', count=count))
    if dtype == 'fp16':
        return np.frombuffer(raw, dtype='<f2', count=count).astype(np.float32)
    if dtype == 'fp32':
        return np.frombuffer(raw, dtype='<f4', count=count).astype(np.float32)
    raise ValueError('unknown dtype ' + dtype)


# ---------------------------------------------------------------------------
# .pth writing
#
# torch.save(dict) writes an uncompressed zip (miniz, ZIP64 end records always
# present) named after the file, holding:
#   <name>/data.pkl       pickle protocol 2 of the dict; each tensor is
#                         torch._utils._rebuild_tensor_v2(storage, offset, size,
#                         stride, False, OrderedDict()) and each storage a
#                         persistent id ('storage', torch.XStorage, key, 'cpu', numel)
#   <name>/byteorder      "little"
#   <name>/data/<key>     raw little-endian storage bytes, file data 64-byte aligned
#   <name>/version        "3\n"
# torch <= 2.5 writes data/<key> in lexicographic key order ('0','1','10',...);
# newer torch adds .format_version ("1") and .storage_alignment ("64") after
# data.pkl, writes data/<key> in numeric order, and ends with
# .data/serialization_id. `modern=True` produces that newer layout.

class _FakeStorage:
    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel


class _FakeTensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, tuple(int(s) for s in shape)

    def __reduce_ex__(self, protocol):
        stride, acc = [], 1
        for s in reversed(self.shape):
            stride.append(acc)
            acc *= s
        stride = tuple(reversed(stride))
        return (_fake_torch.rebuild, (self.storage, 0, self.shape, stride, False,
                                      collections.OrderedDict()))


def _make_fake_torch():
    # Module objects whose names match torch's, so that pickle's GLOBAL opcodes
    # read exactly 'torch._utils _rebuild_tensor_v2' and 'torch BFloat16Storage'.
    torch_mod = types.ModuleType('torch')
    utils_mod = types.ModuleType('torch._utils')
    torch_mod._utils = utils_mod

    def _rebuild_tensor_v2(*args):
        raise RuntimeError('fake torch: never called')
    _rebuild_tensor_v2.__module__ = 'torch._utils'
    _rebuild_tensor_v2.__qualname__ = '_rebuild_tensor_v2'
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2

    storages = {}
    for cls_name in _STORAGE_TO_DTYPE:
        cls = type(cls_name, (), {'__module__': 'torch'})
        setattr(torch_mod, cls_name, cls)
        storages[_STORAGE_TO_DTYPE[cls_name]] = cls
    return types.SimpleNamespace(torch=torch_mod, utils=utils_mod,
                                 rebuild=_rebuild_tensor_v2, storages=storages)


_fake_torch = _make_fake_torch()


@contextlib.contextmanager
def _fake_torch_modules():
    saved = {k: sys.modules.get(k) for k in ('torch', 'torch._utils')}
    sys.modules['torch'] = _fake_torch.torch
    sys.modules['torch._utils'] = _fake_torch.utils
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _FakeStorage):
            return ('storage', _fake_torch.storages[obj.dtype], obj.key, 'cpu', obj.numel)
        return None


def pickle_state_dict(tensors, dtypes):
    """The data.pkl bytes torch.save would write for {name: tensor}."""
    obj = {}
    for i, (name, arr) in enumerate(tensors.items()):
        st = _FakeStorage(str(i), dtypes[name], int(np.asarray(arr).size))
        obj[name] = _FakeTensor(st, np.shape(arr))
    buf = io.BytesIO()
    with _fake_torch_modules():
        _TorchPickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


class _ZipWriter:
    """The subset of miniz's writer that torch uses: stored records, 64-byte
    aligned data via an 'FB' extra field, data descriptors, ZIP64 end records."""

    def __init__(self, f):
        self.f, self.pos, self.central = f, 0, []

    def write(self, name, data):
        name_b = name.encode('utf-8')
        # torch's getPadding: align the start of the data to 64 bytes
        start = self.pos + 30 + len(name_b) + 4
        pad = (-start) % 64
        extra = b'FB' + struct.pack('<H', pad) + b'Z' * pad
        crc = zlib.crc32(data) & 0xFFFFFFFF
        flags = 0x0808 if data else 0x0800   # data descriptor follows | UTF-8 names
        header = struct.pack('<IHHHHHIIIHH', 0x04034B50, 0, flags, 0, 0, 0,
                             0, 0, 0, len(name_b), len(extra))
        offset = self.pos
        self._out(header + name_b + extra)
        assert self.pos % 64 == 0
        self._out(data)
        if data:
            self._out(struct.pack('<IIII', 0x08074B50, crc, len(data), len(data)))
        self.central.append((name_b, flags, crc, len(data), offset))

    def close(self):
        cd_start = self.pos
        for name_b, flags, crc, size, offset in self.central:
            self._out(struct.pack('<IHHHHHHIIIHHHHHII', 0x02014B50, 0, 0, flags, 0, 0, 0,
                                  crc, size, size, len(name_b), 0, 0, 0, 0, 0, offset) + name_b)
        cd_size = self.pos - cd_start
        n = len(self.central)
        z64 = self.pos
        self._out(struct.pack('<IQHHIIQQQQ', 0x06064B50, 44, 0x031E, 0x002D, 0, 0,
                              n, n, cd_size, cd_start))
        self._out(struct.pack('<IIQI', 0x07064B50, 0, z64, 1))
        self._out(struct.pack('<IHHHHIIH', 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF),
                              min(cd_size, 0xFFFFFFFF), min(cd_start, 0xFFFFFFFF), 0))

    def _out(self, b):
        self.f.write(b)
        self.pos += len(b)


def write_pth(path, tensors, dtype='bf16', modern=False):
    """Write {name: float array} as torch.save would. `dtype` is one of
    bf16/fp16/fp32, or a dict name -> dtype. Tensor order is kept."""
    dtypes = dtype if isinstance(dtype, dict) else {k: dtype for k in tensors}
    base = os.path.basename(path)
    archive = base[:base.rfind('.')] if '.' in base else base   # torch's basename()
    pkl = pickle_state_dict(tensors, dtypes)
    keys = [str(i) for i in range(len(tensors))]
    blobs = dict(zip(keys, (encode(a, dtypes[n]) for n, a in tensors.items())))
    with open(path, 'wb') as f:
        z = _ZipWriter(f)
        z.write(archive + '/data.pkl', pkl)
        if modern:
            z.write(archive + '/.format_version', b'1')
            z.write(archive + '/.storage_alignment', b'64')
        z.write(archive + '/byteorder', b'little')
        for key in (keys if modern else sorted(keys)):
            z.write(archive + '/data/' + key, blobs[key])
        z.write(archive + '/version', b'3\n')
        if modern:
            z.write(archive + '/.data/serialization_id', b'0123456789012345678901')
        z.close()


# ---------------------------------------------------------------------------
# .pth reading (any torch.save'd dict/OrderedDict of plain tensors)

class _StorageRef:
    def __init__(self, dtype, key, numel):
        self.dtype, self.key, self.numel = dtype, key, numel


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, metadata=None):
    return _TensorRef(storage, offset, size, stride)


class _StorageType:
    def __init__(self, dtype):
        self.dtype = dtype


class _PthUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
            return _rebuild_tensor_v2
        if (module, name) == ('collections', 'OrderedDict'):
            return collections.OrderedDict
        if module == 'torch' and name in _STORAGE_TO_DTYPE:
            return _StorageType(_STORAGE_TO_DTYPE[name])
        raise pickle.UnpicklingError('unsupported global %s.%s' % (module, name))

    def persistent_load(self, pid):
        kind, stype, key, _location, numel = pid
        if kind != 'storage':
            raise pickle.UnpicklingError('unsupported persistent id ' + repr(pid))
        return _StorageRef(stype.dtype, key, numel)


def read_pth(path):
    """-> (OrderedDict name -> float32 array, dict name -> dtype). The archive
    prefix (torch uses the file's base name, or 'archive') is taken from data.pkl."""
    with zipfile.ZipFile(path) as zf:
        pkl_name = [n for n in zf.namelist() if n.endswith('/data.pkl')]
        if len(pkl_name) != 1:
            raise ValueError('no single data.pkl in ' + path)
        prefix = pkl_name[0][:-len('data.pkl')]
        obj = _PthUnpickler(io.BytesIO(zf.read(pkl_name[0]))).load()
        out, dtypes, cache = collections.OrderedDict(), {}, {}
        for name, t in obj.items():
            st = t.storage
            if st.key not in cache:
                raw = zf.read(prefix + 'data/' + st.key)
                cache[st.key] = decode(raw, st.dtype, st.numel)
            flat = cache[st.key]
            item = flat.itemsize
            arr = np.lib.stride_tricks.as_strided(
                flat[t.offset:], shape=t.size, strides=tuple(s * item for s in t.stride))
            out[name] = np.array(arr, dtype=np.float32)
            dtypes[name] = st.dtype
    return out, dtypes


def pth_record_offsets(path):
    """{entry name: absolute offset of its data} from the local headers (for tests
    of the 64-byte alignment)."""
    res = {}
    with open(path, 'rb') as f:
        blob = f.read()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            h = info.header_offset
            n, e = struct.unpack('<HH', blob[h + 26:h + 30])
            res[info.filename] = h + 30 + n + e
    return res


# ---------------------------------------------------------------------------
# safetensors: u64 header length, JSON header (space-padded to 8 bytes), data

def write_safetensors(path, tensors, dtype='bf16', metadata=None):
    dtypes = dtype if isinstance(dtype, dict) else {k: dtype for k in tensors}
    header, blobs, pos = {}, [], 0
    for name in sorted(tensors):
        raw = encode(tensors[name], dtypes[name])
        header[name] = {'dtype': DTYPES[dtypes[name]][1],
                        'shape': [int(s) for s in np.shape(tensors[name])],
                        'data_offsets': [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    header['__metadata__'] = dict(metadata or {'format': 'pt'})
    hb = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hb += b' ' * ((-len(hb)) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """-> (dict name -> float32 array, dict name -> dtype, metadata)."""
    with open(path, 'rb') as f:
        blob = f.read()
    (n,) = struct.unpack('<Q', blob[:8])
    header = json.loads(blob[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', {})
    base = 8 + n
    out, dtypes = {}, {}
    for name, h in header.items():
        dt = _ST_TO_DTYPE[h['dtype']]
        a, b = h['data_offsets']
        count = int(np.prod(h['shape'], dtype=np.int64))
        out[name] = decode(blob[base + a:base + b], dt, count).reshape(h['shape'])
        dtypes[name] = dt
    return out, dtypes, meta


# ---------------------------------------------------------------------------
# Official (BlinkDL) RWKV-7 names <-> fla-hub names (see README.md)

_FLA_TOP = {'emb.weight': 'model.embeddings.weight', 'ln_out.weight': 'model.norm.weight',
            'ln_out.bias': 'model.norm.bias', 'head.weight': 'lm_head.weight'}
_FLA_BLOCK = {'ln0': 'pre_norm', 'ln1': 'attn_norm', 'ln2': 'ffn_norm'}
_FLA_ATT = {'receptance.weight': 'r_proj.weight', 'key.weight': 'k_proj.weight',
            'value.weight': 'v_proj.weight', 'output.weight': 'o_proj.weight',
            'ln_x.weight': 'g_norm.weight', 'ln_x.bias': 'g_norm.bias'}
_LORA_PART = {'0': ('lora.2.bias', False), '1': ('lora.0.weight', True), '2': ('lora.2.weight', True)}


def official_to_fla(weights):
    """BlinkDL .pth dict -> fla-hub safetensors dict (shapes as fla stores them).
    Drops layer 0's unused v0/v1/v2 (fla has no v_lora in layer 0)."""
    out = {}
    for name, arr in weights.items():
        arr = np.asarray(arr)
        if name in _FLA_TOP:
            out[_FLA_TOP[name]] = arr
            continue
        m = re.match(r'blocks\.(\d+)\.(.+)$', name)
        if not m:
            raise KeyError('unexpected key ' + name)
        i, rest = int(m.group(1)), m.group(2)
        pre = 'model.layers.%d.' % i
        part = rest.split('.')[0]
        if part in _FLA_BLOCK:
            out[pre + _FLA_BLOCK[part] + rest[len(part):]] = arr
        elif rest.startswith('att.'):
            a = rest[4:]
            lm = re.match(r'([wavg])([012])$', a)
            if lm:
                if i == 0 and lm.group(1) == 'v':
                    continue
                suffix, transpose = _LORA_PART[lm.group(2)]
                val = arr.T if transpose else arr.reshape(-1)
                out[pre + 'attn.%s_lora.%s' % (lm.group(1), suffix)] = val
            elif a in _FLA_ATT:
                out[pre + 'attn.' + _FLA_ATT[a]] = arr
            elif a in ('k_k', 'k_a'):
                out[pre + 'attn.' + a] = arr.reshape(-1)          # [C]
            elif re.match(r'x_[rwkvag]$', a) or a == 'r_k':
                out[pre + 'attn.' + a] = arr                       # [1,1,C] / [H,N] kept
            else:
                raise KeyError('unexpected key ' + name)
        elif rest == 'ffn.x_k':
            out[pre + 'ffn.x_k'] = arr.reshape(-1)                 # [C]
        elif rest in ('ffn.key.weight', 'ffn.value.weight'):
            out[pre + rest] = arr
        else:
            raise KeyError('unexpected key ' + name)
    return out


def fla_to_official(tensors):
    """Inverse of official_to_fla (vectors of [1,1,C] in the official layout)."""
    inv_top = {v: k for k, v in _FLA_TOP.items()}
    inv_block = {v: k for k, v in _FLA_BLOCK.items()}
    inv_att = {v: k for k, v in _FLA_ATT.items()}
    out = {}
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        if name in inv_top:
            out[inv_top[name]] = arr
            continue
        m = re.match(r'model\.layers\.(\d+)\.(.+)$', name)
        if not m:
            raise KeyError('unexpected key ' + name)
        pre, rest = 'blocks.%s.' % m.group(1), m.group(2)
        part = rest.split('.')[0]
        if part in inv_block:
            out[pre + inv_block[part] + rest[len(part):]] = arr
        elif rest.startswith('attn.'):
            a = rest[5:]
            lm = re.match(r'([wavg])_lora\.(lora\.0\.weight|lora\.2\.weight|lora\.2\.bias)$', a)
            if lm:
                num = {'lora.2.bias': '0', 'lora.0.weight': '1', 'lora.2.weight': '2'}[lm.group(2)]
                out[pre + 'att.' + lm.group(1) + num] = arr.reshape(1, 1, -1) if num == '0' else arr.T
            elif a in inv_att:
                out[pre + 'att.' + inv_att[a]] = arr
            elif a in ('k_k', 'k_a'):
                out[pre + 'att.' + a] = arr.reshape(1, 1, -1)
            else:
                out[pre + 'att.' + a] = arr
        elif rest == 'ffn.x_k':
            out[pre + 'ffn.x_k'] = arr.reshape(1, 1, -1)
        else:
            out[pre + rest] = arr
    return out


def fla_config(weights, dtype='bfloat16'):
    """config.json for the fla-hub layout, in the form fla-hub's RWKV-7 repos use."""
    C = weights['emb.weight'].shape[1]
    V = weights['emb.weight'].shape[0]
    L = 1 + max(int(k.split('.')[1]) for k in weights if k.startswith('blocks.'))
    F = weights['blocks.0.ffn.key.weight'].shape[0]
    return {
        'a_low_rank_dim': int(weights['blocks.0.att.a1'].shape[1]),
        'architectures': ['RWKV7ForCausalLM'],
        'attn': None,
        'attn_mode': 'chunk',
        'bos_token_id': 0,
        'decay_low_rank_dim': int(weights['blocks.0.att.w1'].shape[1]),
        'eos_token_id': 0,
        'fuse_cross_entropy': True,
        'fuse_norm': False,
        'gate_low_rank_dim': int(weights['blocks.0.att.g1'].shape[1]),
        'head_dim': 64,
        'hidden_act': 'sqrelu',
        'hidden_ratio': F / C,
        'hidden_size': int(C),
        'initializer_range': 0.02,
        'intermediate_size': int(F),
        'max_position_embeddings': 2048,
        'model_type': 'rwkv7',
        'norm_bias': True,
        'norm_eps': 1e-05,
        'norm_first': True,
        'num_heads': None,
        'num_hidden_layers': int(L),
        'tie_word_embeddings': False,
        'torch_dtype': dtype,
        'use_cache': True,
        'v_low_rank_dim': int(weights['blocks.1.att.v1'].shape[1]) if L > 1 else 32,
        'value_dim': [int(C)] * L,
        'vocab_size': int(V),
    }

"""WKV-7 (the RWKV-7 state update) for training: a token-by-token reference and a chunked form.

Per head, the state S is [value 64][key 64] in fp32 (the official layout). For each token t:
    S_t = S_{t-1} diag(w_t) + (S_{t-1} a_t) b_t^T + v_t k_t^T,      y_t = S_t r_t
with a_t = -kk_t and b_t = kk_t * iclr_t as the RWKV-7 block passes them, w_t = exp(logw_t).

The chunked form processes L tokens at once with matrix products (the DPLR delta rule written
with cumulative decays Gamma inside the chunk, a unit lower-triangular solve for the u_t = S_{t-1} a_t
terms) and reduces every chunk to an affine map of its start state, S_end = S_start P + Q; the chunks'
start states then come from composing those maps (chunk_starts). Autograd goes through plain PyTorch ops.
Inputs are [B, T, H, N]; everything here runs in fp32 (or fp64 for the checks) with autocast off.
"""
import torch


def wkv7_recurrent(r, logw, k, v, a, b, s0=None):
    """Plain recurrence, one token at a time. Returns y [B,T,H,N] and the final state [B,H,N,N]."""
    B, T, H, N = r.shape
    S = r.new_zeros(B, H, N, N) if s0 is None else s0
    ys = []
    for t in range(T):
        w = torch.exp(logw[:, t])                                   # [B,H,N] over keys
        sa = torch.einsum("bhvk,bhk->bhv", S, a[:, t])
        S = S * w[:, :, None, :] + sa[..., None] * b[:, t, :, None, :] + v[:, t, :, :, None] * k[:, t, :, None, :]
        ys.append(torch.einsum("bhvk,bhk->bhv", S, r[:, t]))
    return torch.stack(ys, 1), S


def chunk_starts(S0, P, Q):
    """Start state of every chunk and the final state, for S_{c+1} = S_c P_c + Q_c (P, Q: [B,H,nc,.,.]).
    Two levels instead of nc steps in sequence (a 32K-token sequence has 1,024 chunks of 32, and a Python
    loop of 1,024 small products per layer left the GPU mostly idle): the maps are composed inside groups of
    g ~ sqrt(nc) chunks, batched over the groups, then the groups run in sequence: ~2 sqrt(nc) steps."""
    B, H, nc, K, _ = P.shape
    g = max(1, round(nc ** 0.5))
    ng = (nc + g - 1) // g
    if ng * g > nc:                            # identity maps pad the last group
        eye = torch.eye(K, device=P.device, dtype=P.dtype).expand(B, H, ng * g - nc, K, K)
        P = torch.cat([P, eye], 2)
        Q = torch.cat([Q, Q.new_zeros(B, H, ng * g - nc, *Q.shape[3:])], 2)
    P, Q = P.view(B, H, ng, g, K, K), Q.view(B, H, ng, g, *Q.shape[3:])
    Pc, Qc = [P[:, :, :, 0]], [Q[:, :, :, 0]]  # group start -> after chunk j of the group
    for j in range(1, g):
        Pc.append(Pc[-1] @ P[:, :, :, j])
        Qc.append(Qc[-1] @ P[:, :, :, j] + Q[:, :, :, j])
    S, gstarts = S0, []
    for i in range(ng):
        gstarts.append(S)
        S = S @ Pc[-1][:, :, i] + Qc[-1][:, :, i]
    Gs = torch.stack(gstarts, 2)[:, :, :, None]                        # [B,H,ng,1,V,K]
    if g > 1:
        inner = Gs @ torch.stack(Pc[:-1], 3) + torch.stack(Qc[:-1], 3)  # starts of chunks 1..g-1
        Gs = torch.cat([Gs, inner], 3)
    return Gs.reshape(B, H, ng * g, *Gs.shape[4:])[:, :, :nc], S


def wkv7_chunked(r, logw, k, v, a, b, s0=None, chunk=32):
    """Chunked WKV-7. Same contract as wkv7_recurrent. logw must be >= -0.6066 (RWKV-7 bounds it),
    so exp(-cumsum) inside a chunk of 32 stays below 3e8 and fp32 keeps its relative precision."""
    B, T, H, N = r.shape
    L = chunk
    pad = (-T) % L
    if pad:
        # padded steps: w = 1 and no update, so the final state is unchanged; outputs are dropped
        z = lambda x: torch.nn.functional.pad(x, (0, 0, 0, 0, 0, pad))
        r, logw, k, v, a, b = map(z, (r, logw, k, v, a, b))
    Tp = T + pad
    nc = Tp // L
    # [B,T,H,N] -> [B,H,nc,L,N]
    f = lambda x: x.view(B, nc, L, H, N).permute(0, 3, 1, 2, 4)
    r, logw, k, v, a, b = map(f, (r, logw, k, v, a, b))

    G = torch.cumsum(logw, dim=3)              # log Gamma_t (inclusive)
    Gp = G - logw                              # log Gamma_{t-1}
    GL = G[:, :, :, -1:, :]                    # log Gamma_L
    iG = torch.exp(-G)
    r_ = r * torch.exp(G)                      # r_t * Gamma_t
    a_ = a * torch.exp(Gp)                     # a_t * Gamma_{t-1}
    k_ = k * iG                                # k_s / Gamma_s
    b_ = b * iG
    tail = torch.exp(GL - G)                   # Gamma_L / Gamma_s
    kd = k * tail
    bd = b * tail

    idx = torch.arange(L, device=r.device)
    incl = (idx[:, None] >= idx[None, :])      # s <= t
    strict = (idx[:, None] > idx[None, :])     # s < t
    zero = r.new_zeros(())
    kT, bT = k_.transpose(-1, -2), b_.transpose(-1, -2)
    A_qk = torch.where(incl, r_ @ kT, zero)
    A_qb = torch.where(incl, r_ @ bT, zero)
    A_ak = torch.where(strict, a_ @ kT, zero)
    A_ab = torch.where(strict, a_ @ bT, zero)

    # U = (I - A_ab)^-1 (A_ak V + a_ S0^T) = U0 + W S0^T
    eye = torch.eye(L, device=r.device, dtype=r.dtype)
    rhs = torch.cat([A_ak @ v, a_], dim=-1)
    sol = torch.linalg.solve_triangular(eye - A_ab, rhs, upper=False, unitriangular=True)
    U0, W = sol[..., :N], sol[..., N:]

    # chunk as an affine map of its start state: S_end = S_start P + Q
    P = torch.diag_embed(torch.exp(GL[:, :, :, 0, :])) + W.transpose(-1, -2) @ bd   # [K,K]
    Q = v.transpose(-1, -2) @ kd + U0.transpose(-1, -2) @ bd                        # [V,K]
    # outputs: Y = X S_start^T + Z
    X = r_ + A_qb @ W
    Z = A_qk @ v + A_qb @ U0

    S0 = r.new_zeros(B, H, N, N) if s0 is None else s0
    Sst, S = chunk_starts(S0, P, Q)                                   # [B,H,nc,V,K], final state
    Y = X @ Sst.transpose(-1, -2) + Z                                  # [B,H,nc,L,V]
    Y = Y.permute(0, 2, 3, 1, 4).reshape(B, Tp, H, N)[:, :T]
    return Y, S

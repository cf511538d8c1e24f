// Measures this machine's ceilings in the same run as a benchmark: memory read
// bandwidth and the peak fp32 FMA rate, both on all threads of the pool.
#pragma once
#include "threadpool.h"

namespace rwkvx {

// Bytes per second reading a buffer much larger than the caches (median of runs).
double measure_read_bandwidth(ThreadPool& pool, size_t bytes = size_t(1) << 30);
// fp32 FLOP/s of independent FMA chains at the widest SIMD level available
// (a FMA counts 2 FLOP). `level` receives the level's name.
double measure_peak_flops(ThreadPool& pool, const char** level);

}  // namespace rwkvx

// V3SIM_HD marks code that both the host and CUDA kernels call (index math, hashes): `__host__ __device__` under
// nvcc, nothing under a host compiler (so the same header builds without CUDA and is unit-tested on the host).
#pragma once

#if defined(__CUDACC__)
#define V3SIM_HD __host__ __device__
#else
#define V3SIM_HD
#endif

// Thread count for difflab's OpenMP kernels and OpenBLAS together.
#pragma once

namespace difflab::tensor {
void set_num_threads(int n);
int get_num_threads();

// Whether the OpenBLAS in use is the OpenMP build. Its calls run single-threaded inside an
// OpenMP parallel region, which the thread-invariant GEMM (cpu/gemm.h) relies on. Any other
// build (pthreads, serial) ignores OpenMP, so difflab keeps it at one thread per call:
// set_num_threads never raises it, and blas_threading_init() pins it before the first GEMM.
bool blas_uses_openmp();
void blas_threading_init();
}  // namespace difflab::tensor

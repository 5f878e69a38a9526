#include "tensor/threads.h"

#include <omp.h>

extern "C" void openblas_set_num_threads(int);
extern "C" int openblas_get_parallel();

namespace difflab::tensor {

bool blas_uses_openmp() {
  // OpenBLAS: 0 sequential, 1 pthreads, 2 OpenMP.
  static const bool openmp = openblas_get_parallel() == 2;
  return openmp;
}

void blas_threading_init() {
  static const bool done = [] {
    if (!blas_uses_openmp()) openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

void set_num_threads(int n) {
  if (n < 1) n = 1;
  omp_set_num_threads(n);
  openblas_set_num_threads(blas_uses_openmp() ? n : 1);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace difflab::tensor

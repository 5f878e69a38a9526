// Thread count for difflab's OpenMP kernels and OpenBLAS together.
#pragma once

namespace difflab::tensor {
void set_num_threads(int n);
int get_num_threads();
}  // namespace difflab::tensor

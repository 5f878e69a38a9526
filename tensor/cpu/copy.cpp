// Strided copy with broadcasting and dtype conversion; fill.
#include <cstring>

#include "tensor/cpu/check.h"
#include "tensor/cpu/loops.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {
template <typename D, typename S>
void copy_typed(const Tensor& dst, const Tensor& src) {
  Shape sst = cpu::broadcast_byte_strides(src, dst.shape());
  Shape dstst = cpu::broadcast_byte_strides(dst, dst.shape());
  cpu::strided_loop<2>(dst.shape(), {static_cast<char*>(dst.raw_data()),
                                     static_cast<char*>(src.raw_data())},
                       {dstst, sst}, [](char** p, const int64_t* s, int64_t n) {
                         if (s[0] == sizeof(D) && s[1] == sizeof(S)) {
                           D* d = reinterpret_cast<D*>(p[0]);
                           const S* x = reinterpret_cast<const S*>(p[1]);
                           for (int64_t i = 0; i < n; ++i) d[i] = D(x[i]);
                         } else {
                           for (int64_t i = 0; i < n; ++i)
                             *reinterpret_cast<D*>(p[0] + i * s[0]) =
                                 D(*reinterpret_cast<const S*>(p[1] + i * s[1]));
                         }
                       });
}
}  // namespace

void copy_into(const Tensor& dst, const Tensor& src) {
  DIFFLAB_CHECK(dst.defined() && src.defined(), "copy: undefined tensor");
#if DIFFLAB_HAVE_CUDA
  if (dst.device().is_cuda() || src.device().is_cuda()) return cuda::copy_into(dst, src);
#endif
  DIFFLAB_CHECK(dst.device().is_cpu() && src.device().is_cpu(), "copy: devices ", dst.device(),
                " and ", src.device(), " (CUDA backend not built)");
  Shape b = broadcast_shapes(dst.shape(), src.shape(), "copy");
  DIFFLAB_CHECK(b == dst.shape(), "copy: cannot broadcast source ", src.shape(),
                " to destination ", dst.shape());
  if (dst.numel() == 0) return;
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous() &&
      dst.shape() == src.shape()) {
    std::memcpy(dst.raw_data(), src.raw_data(), dst.nbytes());
    return;
  }
  DIFFLAB_DISPATCH_ALL(dst.dtype(), "copy", [&] {
    using D = scalar_t;
    DIFFLAB_DISPATCH_ALL(src.dtype(), "copy", [&] { copy_typed<D, scalar_t>(dst, src); });
  });
}

void fill(const Tensor& dst, double value) {
  DIFFLAB_CUDA_ROUTE(dst, cuda::fill(dst, value));
  DIFFLAB_CHECK(dst.device().is_cpu(), "fill: device ", dst.device(), " (CUDA backend not built)");
  if (dst.numel() == 0) return;
  DIFFLAB_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    const scalar_t v = scalar_t(value);
    Shape st = cpu::broadcast_byte_strides(dst, dst.shape());
    cpu::strided_loop<1>(dst.shape(), {static_cast<char*>(dst.raw_data())}, {st},
                         [v](char** p, const int64_t* s, int64_t n) {
                           for (int64_t i = 0; i < n; ++i)
                             *reinterpret_cast<scalar_t*>(p[0] + i * s[0]) = v;
                         });
  });
}

}  // namespace difflab::tensor

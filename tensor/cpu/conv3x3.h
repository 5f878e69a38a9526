// Direct 3x3 convolution (stride 1, padding 1, one group, f32) on AVX-512, with no column
// matrix: an image is copied once into zero-padded planes of width W + 2, and each output
// position q = y (W + 2) + x reads tap (ky, kx) at q + ky (W + 2) + kx of the flattened plane, so
// every tap is one contiguous vector load. The two padding columns of each output row are
// computed and dropped. An 8-channel by up to 48-position block of outputs stays in registers
// while the input channels and taps are summed in a fixed order. The same kernel gives the
// input gradient, with the weights transposed and flipped. The weight gradient reads the same
// padded planes against the output gradient laid out on the same positions (zero at the
// padding columns), three output channels by nine taps at a time. Built only where the
// compiler targets AVX-512F (-march=native on such a machine); elsewhere conv3x3_built() is
// false.
#pragma once
#include <cstdint>

namespace difflab::tensor::cpu {

// The kernels exist in this build.
bool conv3x3_built();
// conv2d takes the direct path for eligible shapes (when built; on by default). Switched off by
// tests and benchmarks to compare with im2col + GEMM.
bool conv3x3_enabled();
void set_conv3x3_enabled(bool on);

// The sizes of one image's direct convolution from `cin` planes of H x W to `cout` planes.
struct Conv3x3Plan {
  int64_t cin = 0, cout = 0, H = 0, W = 0;
  int64_t row() const { return W + 2; }
  int64_t positions() const;    // output positions computed: H (W + 2) rounded up to 16
  int64_t plane() const;        // floats per padded input plane, read slack included
  int64_t packed_floats() const;   // the packed weights
  int64_t scratch_floats() const;  // per-thread scratch of conv3x3_image
  int64_t weight_grad_scratch_floats(int64_t images) const;  // conv3x3_weight_grad's
};

// Packs w [cout, cin, 3, 3] for conv3x3_image. With `transposed`, w is [cin, cout, 3, 3] of the
// forward convolution whose input gradient is wanted: it is read as [cout, cin] transposed with
// its taps flipped, so conv3x3_image computes dx from dy.
void conv3x3_pack_weights(const Conv3x3Plan& plan, const float* w, bool transposed,
                          float* packed);

// y [cout, H, W] = the convolution of x [cin, H, W] (plus bias [cout] when given).
void conv3x3_image(const Conv3x3Plan& plan, const float* x, const float* packed,
                   const float* bias, float* y, float* scratch);

// dw [cout, cin, 3, 3] = (or += with `accumulate`) the weight gradient summed over `images`
// images of x [cin, H, W] and dy [cout, H, W]. Every product is summed in vector lanes over the
// positions and images in order, then across lanes.
void conv3x3_weight_grad(const Conv3x3Plan& plan, const float* x, const float* dy,
                         int64_t images, bool accumulate, float* dw, float* scratch);

}  // namespace difflab::tensor::cpu

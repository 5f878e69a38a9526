// Op-table cases: matmul and linear, conv2d and its two gradients, nearest upsampling and
// average pooling with their adjoints. Shapes stay tiny: finite differences cost one forward
// call per input element.
#include "autograd/functions.h"
#include "tests/support/op_table.h"

namespace difflab::testing {

using namespace difflab::ag;

namespace {

Conv2dParams conv_params(int64_t stride, int64_t pad, int64_t dil = 1, int64_t groups = 1) {
  Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  p.dil_h = p.dil_w = dil;
  p.groups = groups;
  return p;
}

}  // namespace

std::vector<OpCase> linalg_conv_cases() {
  using V = const std::vector<Var>&;
  std::vector<OpCase> c;
  // Linear ops are followed by a square so their second-order check is not trivially zero;
  // bilinear ones (matmul, conv) already have non-zero mixed second derivatives.
  auto sq = [](const Var& y) { return square(y); };

  // ---- matmul / linear ----
  auto mm = [&](std::string name, Shape a, Shape b) {
    c.push_back({name, {{a}, {b}}, [](V x) { return matmul(x[0], x[1]); }, true});
  };
  mm("matmul_2d", {3, 4}, {4, 5});
  mm("matmul_1d_2d", {4}, {4, 5});
  mm("matmul_2d_1d", {3, 4}, {4});
  mm("matmul_1d_1d", {4}, {4});
  mm("matmul_batched", {2, 3, 4}, {4, 5});
  mm("matmul_batch_broadcast", {2, 1, 3, 4}, {3, 4, 5});
  c.push_back(
      {"matmul_squared", {{{3, 4}}, {{4, 2}}}, [sq](V x) { return sq(matmul(x[0], x[1])); }, true});
  c.push_back({"linear_bias",
               {{{2, 3, 4}}, {{5, 4}}, {{5}}},
               [](V x) { return linear(x[0], x[1], x[2]); },
               true});
  c.push_back(
      {"linear_no_bias", {{{3, 4}}, {{5, 4}}}, [sq](V x) { return sq(linear(x[0], x[1])); }, true});

  // ---- conv2d: x [2, 4, 5, 5] ----
  auto conv = [&](std::string name, Shape ws, Conv2dParams p, bool bias, bool square_out,
                  bool second, Shape xs = {2, 4, 5, 5}) {
    std::vector<InputSpec> in{{xs}, {ws}};
    if (bias) in.push_back({{ws[0]}});
    c.push_back({name, in,
                 [p, bias, square_out](V x) {
                   Var y = conv2d(x[0], x[1], bias ? x[2] : Var(), p);
                   return square_out ? square(y) : y;
                 },
                 second});
  };
  conv("conv2d_3x3_pad1_bias", {3, 4, 3, 3}, conv_params(1, 1), true, false, true);
  conv("conv2d_3x3_pad1_bias_squared", {3, 4, 3, 3}, conv_params(1, 1), true, true, true);
  conv("conv2d_3x3_nopad_nobias", {3, 4, 3, 3}, conv_params(1, 0), false, false, true);
  conv("conv2d_stride2", {3, 4, 3, 3}, conv_params(2, 1), true, false, true);
  conv("conv2d_stride2_nopad_squared", {3, 4, 3, 3}, conv_params(2, 0), false, true, true,
       {1, 4, 6, 6});  // the last row and column are never read
  conv("conv2d_dilation2", {3, 4, 3, 3}, conv_params(1, 2, 2), true, false, true);
  conv("conv2d_groups2", {4, 2, 3, 3}, conv_params(1, 1, 1, 2), true, false, true);
  conv("conv2d_groups2_nobias_squared", {4, 2, 3, 3}, conv_params(1, 1, 1, 2), false, true, true);
  conv("conv2d_depthwise", {4, 1, 3, 3}, conv_params(1, 1, 1, 4), false, false, false);
  conv("conv2d_1x1", {3, 4, 1, 1}, conv_params(1, 0), true, false, true);
  conv("conv2d_1x1_squared", {3, 4, 1, 1}, conv_params(1, 0), false, true, true);
  conv("conv2d_1x1_stride2", {3, 4, 1, 1}, conv_params(2, 0), false, false, false);
  {
    Conv2dParams p;
    p.stride_h = 2, p.stride_w = 1, p.pad_h = 0, p.pad_w = 1, p.dil_h = 1, p.dil_w = 2;
    conv("conv2d_rect_kernel_mixed", {3, 4, 2, 3}, p, true, false, false);
  }

  // ---- the two gradients as functions of their own (g [2, 3, 5, 5]) ----
  const Conv2dParams p1 = conv_params(1, 1);
  c.push_back({"conv2d_input_grad",
               {{{2, 3, 5, 5}}, {{3, 4, 3, 3}}},
               [p1](V x) {
                 return conv2d_input_grad(x[0], x[1], {2, 4, 5, 5}, p1);
               },
               true});
  c.push_back({"conv2d_input_grad_squared",
               {{{2, 3, 5, 5}}, {{3, 4, 3, 3}}},
               [p1, sq](V x) {
                 return sq(conv2d_input_grad(x[0], x[1], {2, 4, 5, 5}, p1));
               },
               true});
  c.push_back({"conv2d_weight_grad",
               {{{2, 3, 5, 5}}, {{2, 4, 5, 5}}},
               [p1](V x) {
                 return conv2d_weight_grad(x[0], x[1], {3, 4, 3, 3}, p1);
               },
               true});
  c.push_back({"conv2d_weight_grad_squared",
               {{{2, 3, 5, 5}}, {{2, 4, 5, 5}}},
               [p1, sq](V x) {
                 return sq(conv2d_weight_grad(x[0], x[1], {3, 4, 3, 3}, p1));
               },
               true});
  const Conv2dParams ps = conv_params(2, 0, 1, 2);  // stride 2, groups 2, input 6x6 -> 2x2
  c.push_back({"conv2d_input_grad_stride2_groups2",
               {{{1, 4, 2, 2}}, {{4, 2, 3, 3}}},
               [ps, sq](V x) {
                 return sq(conv2d_input_grad(x[0], x[1], {1, 4, 6, 6}, ps));
               },
               true});
  c.push_back({"conv2d_weight_grad_stride2_groups2",
               {{{1, 4, 2, 2}}, {{1, 4, 6, 6}}},
               [ps, sq](V x) {
                 return sq(conv2d_weight_grad(x[0], x[1], {4, 2, 3, 3}, ps));
               },
               true});

  // ---- resampling and pooling ----
  c.push_back({"upsample_nearest2d",
               {{{2, 3, 3, 4}}},
               [sq](V x) { return sq(upsample_nearest2d(x[0], 2)); },
               true});
  c.push_back({"upsample_nearest2d_scale3",
               {{{1, 2, 2, 3}}},
               [sq](V x) { return sq(upsample_nearest2d(x[0], 3)); },
               true});
  c.push_back({"upsample_nearest2d_backward",
               {{{2, 3, 4, 6}}},
               [sq](V x) { return sq(upsample_nearest2d_backward(x[0], 2)); },
               true});
  c.push_back(
      {"avg_pool2d_k2_s2", {{{2, 3, 6, 6}}}, [sq](V x) { return sq(avg_pool2d(x[0], 2)); }, true});
  c.push_back({"avg_pool2d_k3_s2",
               {{{2, 3, 7, 7}}},
               [sq](V x) { return sq(avg_pool2d(x[0], 3, 2)); },
               true});
  c.push_back({"avg_pool2d_k3_s2_truncated",
               {{{1, 2, 6, 8}}},
               [sq](V x) { return sq(avg_pool2d(x[0], 3, 2)); },
               true});
  c.push_back({"avg_pool2d_backward_k3_s2",
               {{{2, 3, 3, 3}}},
               [sq](V x) {
                 return sq(avg_pool2d_backward(x[0], {2, 3, 7, 7}, 3, 2));
               },
               true});
  c.push_back({"avg_pool2d_backward_k2_s2",
               {{{1, 2, 3, 3}}},
               [sq](V x) {
                 return sq(avg_pool2d_backward(x[0], {1, 2, 6, 7}, 2, 2));
               },
               true});
  return c;
}

}  // namespace difflab::testing

#include "tensor/checks/conv.h"

#include <sstream>

namespace difflab::tensor::checks {

namespace {

// Defined, placed by `rule`, and f32 or f64.
void check_float_operand(const char* op, const Tensor& ref, const char* ref_what, const Tensor& t,
                         const char* what, DeviceRule rule) {
  check_operand(op, ref, ref_what, t, what, rule);
  DIFFLAB_CHECK(is_floating(t.dtype()), op, ": ", what, " ", t.shape(), " must be f32 or f64, got ",
                t.dtype());
}

void check_grad_out_shape(const char* op, const Tensor& grad_out, const ConvGeom& g,
                          const Shape& xs, const Shape& ws, const Conv2dParams& p) {
  const Shape expect{g.N, g.Cout, g.Ho, g.Wo};
  DIFFLAB_CHECK(grad_out.shape() == expect, op, ": grad_out ", grad_out.shape(),
                " does not match the output ", expect, " of conv2d of input ", xs, " with weight ",
                ws, " (", conv_params_str(p), ")");
}

}  // namespace

std::string conv_params_str(const Conv2dParams& p) {
  std::ostringstream os;
  os << "stride (" << p.stride_h << ", " << p.stride_w << "), padding (" << p.pad_h << ", "
     << p.pad_w << "), dilation (" << p.dil_h << ", " << p.dil_w << "), groups " << p.groups;
  return os.str();
}

bool is_pointwise(const ConvGeom& g, const Conv2dParams& p) {
  return g.kh == 1 && g.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 &&
         p.pad_w == 0;
}

ConvGeom conv_geometry(const char* op, const Shape& xs, const Shape& ws, const Conv2dParams& p) {
  DIFFLAB_CHECK(xs.size() == 4, op, ": input must be 4-D [N, C, H, W], got ", xs);
  DIFFLAB_CHECK(ws.size() == 4, op, ": weight must be 4-D [Cout, Cin/groups, kh, kw], got ", ws);
  DIFFLAB_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.dil_h >= 1 && p.dil_w >= 1 &&
                    p.pad_h >= 0 && p.pad_w >= 0 && p.groups >= 1,
                op, ": invalid parameters ", conv_params_str(p), " (input ", xs, ", weight ", ws,
                ")");
  for (int64_t d : xs) DIFFLAB_CHECK(d >= 0, op, ": negative size in input shape ", xs);
  DIFFLAB_CHECK(ws[0] >= 1 && ws[1] >= 1 && ws[2] >= 1 && ws[3] >= 1, op, ": weight ", ws,
                " has an empty dim");
  ConvGeom g{};
  g.N = xs[0], g.Cin = xs[1], g.H = xs[2], g.W = xs[3];
  g.Cout = ws[0], g.kh = ws[2], g.kw = ws[3], g.G = p.groups;
  DIFFLAB_CHECK(g.Cout % g.G == 0, op, ": weight ", ws, " has ", g.Cout,
                " output channels, not divisible by groups ", g.G);
  DIFFLAB_CHECK(g.Cin == ws[1] * g.G, op, ": input ", xs, " has ", g.Cin, " channels but weight ",
                ws, " expects ", ws[1] * g.G, " (groups ", g.G, ")");
  g.Cin_g = g.Cin / g.G;
  g.Cout_g = g.Cout / g.G;
  const int64_t ekh = p.dil_h * (g.kh - 1) + 1, ekw = p.dil_w * (g.kw - 1) + 1;
  DIFFLAB_CHECK(g.H + 2 * p.pad_h >= ekh && g.W + 2 * p.pad_w >= ekw, op, ": input ", xs,
                " padded by (", p.pad_h, ", ", p.pad_w, ") is smaller than the dilated kernel (",
                ekh, ", ", ekw, ") of weight ", ws, " (", conv_params_str(p), ")");
  g.Ho = (g.H + 2 * p.pad_h - ekh) / p.stride_h + 1;
  g.Wo = (g.W + 2 * p.pad_w - ekw) / p.stride_w + 1;
  g.Kg = g.Cin_g * g.kh * g.kw;
  g.L = g.Ho * g.Wo;
  return g;
}

ConvGeom check_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                      DeviceRule rule) {
  const char* op = "conv2d";
  check_float_operand(op, x, "input", x, "input", rule);
  check_float_operand(op, x, "input", w, "weight", rule);
  check_same_dtype(op, "input", x, "weight", w);
  const ConvGeom g = conv_geometry(op, x.shape(), w.shape(), p);
  if (bias.defined()) {
    check_float_operand(op, x, "input", bias, "bias", rule);
    check_same_dtype(op, "input", x, "bias", bias);
    DIFFLAB_CHECK(bias.dim() == 1 && bias.size(0) == g.Cout, "conv2d: bias ", bias.shape(),
                  " does not match weight ", w.shape(), " (expected [", g.Cout, "])");
  }
  return g;
}

ConvGeom check_conv2d_input_grad(const Tensor& grad_out, const Tensor& w, const Shape& input_shape,
                                 const Conv2dParams& p, DeviceRule rule) {
  const char* op = "conv2d_input_grad";
  check_float_operand(op, grad_out, "grad_out", grad_out, "grad_out", rule);
  check_float_operand(op, grad_out, "grad_out", w, "weight", rule);
  check_same_dtype(op, "grad_out", grad_out, "weight", w);
  const ConvGeom g = conv_geometry(op, input_shape, w.shape(), p);
  check_grad_out_shape(op, grad_out, g, input_shape, w.shape(), p);
  return g;
}

ConvGeom check_conv2d_weight_grad(const Tensor& grad_out, const Tensor& x,
                                  const Shape& weight_shape, const Conv2dParams& p,
                                  DeviceRule rule) {
  const char* op = "conv2d_weight_grad";
  check_float_operand(op, grad_out, "grad_out", grad_out, "grad_out", rule);
  check_float_operand(op, grad_out, "grad_out", x, "input", rule);
  check_same_dtype(op, "grad_out", grad_out, "input", x);
  const ConvGeom g = conv_geometry(op, x.shape(), weight_shape, p);
  check_grad_out_shape(op, grad_out, g, x.shape(), weight_shape, p);
  return g;
}

}  // namespace difflab::tensor::checks

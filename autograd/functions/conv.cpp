// conv2d and its two gradients (each differentiable again), nearest upsampling and average
// pooling with their adjoints.
//
// conv2d is bilinear in (x, w): with J_x, J_w its Jacobians, input_grad(g, w) = J_xᵀ g and
// weight_grad(g, x) = J_wᵀ g. The adjoint identity ⟨conv2d(x, w), g⟩ = ⟨x, input_grad(g, w)⟩ =
// ⟨w, weight_grad(g, x)⟩ gives every derivative of the gradients as another of the three ops.
#include "autograd/function.h"
#include "autograd/functions.h"

namespace difflab::ag {

namespace T = difflab::tensor;

Var conv2d(const Var& x, const Var& w, const Var& bias, const Conv2dParams& p) {
  Tensor y = T::conv2d(x.value(), w.value(), bias.defined() ? bias.value() : Tensor(), p);
  return make_result(
      std::move(y), "conv2d", {x, w, bias},
      {w.requires_grad() ? save(x) : SavedVar{}, x.requires_grad() ? save(w) : SavedVar{}},
      [p, xs = x.shape(), ws = w.shape()](BackwardContext& c) {
        std::vector<Var> g(3);
        const Var& gy = c.grad_output;
        if (c.needs_input_grad(0)) g[0] = conv2d_input_grad(gy, c.saved[1], xs, p);
        if (c.needs_input_grad(1)) g[1] = conv2d_weight_grad(gy, c.saved[0], ws, p);
        if (c.needs_input_grad(2)) g[2] = sum(gy, {0, 2, 3});
        return g;
      });
}

Var conv2d_input_grad(const Var& grad_out, const Var& w, const Shape& input_shape,
                      const Conv2dParams& p) {
  Tensor dx = T::conv2d_input_grad(grad_out.value(), w.value(), input_shape, p);
  // Upstream G has the shape of x: ⟨G, J_xᵀ g⟩ = ⟨conv2d(G, w), g⟩ = ⟨w, weight_grad(g, G)⟩.
  return make_result(std::move(dx), "conv2d_input_grad", {grad_out, w},
                     {w.requires_grad() ? save(grad_out) : SavedVar{},
                      grad_out.requires_grad() ? save(w) : SavedVar{}},
                     [p, ws = w.shape()](BackwardContext& c) {
                       std::vector<Var> g(2);
                       const Var& G = c.grad_output;
                       if (c.needs_input_grad(0)) g[0] = conv2d(G, c.saved[1], Var(), p);
                       if (c.needs_input_grad(1)) g[1] = conv2d_weight_grad(c.saved[0], G, ws, p);
                       return g;
                     });
}

Var conv2d_weight_grad(const Var& grad_out, const Var& x, const Shape& weight_shape,
                       const Conv2dParams& p) {
  Tensor dw = T::conv2d_weight_grad(grad_out.value(), x.value(), weight_shape, p);
  // Upstream H has the shape of w: ⟨H, J_wᵀ g⟩ = ⟨conv2d(x, H), g⟩ = ⟨x, input_grad(g, H)⟩.
  return make_result(std::move(dw), "conv2d_weight_grad", {grad_out, x},
                     {x.requires_grad() ? save(grad_out) : SavedVar{},
                      grad_out.requires_grad() ? save(x) : SavedVar{}},
                     [p, xs = x.shape()](BackwardContext& c) {
                       std::vector<Var> g(2);
                       const Var& H = c.grad_output;
                       if (c.needs_input_grad(0)) g[0] = conv2d(c.saved[1], H, Var(), p);
                       if (c.needs_input_grad(1)) g[1] = conv2d_input_grad(c.saved[0], H, xs, p);
                       return g;
                     });
}

Var upsample_nearest2d(const Var& x, int64_t scale) {
  return make_result(T::upsample_nearest2d(x.value(), scale), "upsample_nearest2d", {x}, {},
                     [scale](BackwardContext& c) {
                       return std::vector<Var>{upsample_nearest2d_backward(c.grad_output, scale)};
                     });
}

Var upsample_nearest2d_backward(const Var& grad_out, int64_t scale) {
  return make_result(T::upsample_nearest2d_backward(grad_out.value(), scale),
                     "upsample_nearest2d_backward", {grad_out}, {}, [scale](BackwardContext& c) {
                       return std::vector<Var>{upsample_nearest2d(c.grad_output, scale)};
                     });
}

Var avg_pool2d(const Var& x, int64_t kernel, int64_t stride) {
  if (stride == -1) stride = kernel;
  return make_result(
      T::avg_pool2d(x.value(), kernel, stride), "avg_pool2d", {x}, {},
      [in = x.shape(), kernel, stride](BackwardContext& c) {
        return std::vector<Var>{avg_pool2d_backward(c.grad_output, in, kernel, stride)};
      });
}

Var avg_pool2d_backward(const Var& grad_out, const Shape& input_shape, int64_t kernel,
                        int64_t stride) {
  return make_result(T::avg_pool2d_backward(grad_out.value(), input_shape, kernel, stride),
                     "avg_pool2d_backward", {grad_out}, {}, [kernel, stride](BackwardContext& c) {
                       return std::vector<Var>{avg_pool2d(c.grad_output, kernel, stride)};
                     });
}

}  // namespace difflab::ag

// Differentiable group_norm, group_norm_silu, layer_norm, softmax, log_softmax.
// The norms have two backward paths giving the same first-order gradient: the fused kernel
// (tensor::*_norm_backward) when no graph is being recorded, and, under create_graph, a composed
// formula from Var ops that recomputes mean and variance from the saved input, so second
// derivatives are exact. Softmax backward is always composed (it is cheap).
#include "autograd/function.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"

namespace difflab::ag {

namespace T = difflab::tensor;

namespace {

Tensor value_or_none(const Var& v) { return v.defined() ? v.value() : Tensor(); }

// x̂ = (x − μ)·rstd over `rdims` (keepdim reductions), μ and rstd recomputed from x with Var ops.
struct Normalised {
  Var xhat, rs;
};
Normalised composed_normalise(const Var& x, const std::vector<int64_t>& rdims, double eps) {
  Var xc = sub(x, mean(x, rdims, true));
  Var rs = rsqrt(mean(square(xc), rdims, true) + eps);
  return {mul(xc, rs), rs};
}

// Normalisation backward given the upstream gradient already multiplied by the weight (gw):
//   dx = rstd · (gw − mean(gw) − x̂ · mean(gw · x̂)).
Var composed_norm_dx(const Normalised& nx, const Var& gw, const std::vector<int64_t>& rdims) {
  return mul(nx.rs, sub(sub(gw, mean(gw, rdims, true)),
                        mul(nx.xhat, mean(mul(gw, nx.xhat), rdims, true))));
}

std::vector<int64_t> range_dims(int64_t from, int64_t to) {
  std::vector<int64_t> d;
  for (int64_t i = from; i < to; ++i) d.push_back(i);
  return d;
}

// The shapes a group norm's composed backward works in, for x [N, C, *]: the dims reduced for
// the parameter gradients (all but channels), [1, C, 1, ...] for the parameters, and
// [N, groups, rest] for the statistics.
struct GroupShapes {
  std::vector<int64_t> pdims;
  Shape wshape, gshape;
};
GroupShapes group_shapes(const Shape& xshape, int64_t groups) {
  const int64_t nd = int64_t(xshape.size()), N = xshape[0];
  GroupShapes s;
  s.pdims = range_dims(0, nd);
  s.pdims.erase(s.pdims.begin() + 1);
  s.wshape.assign(size_t(nd), 1);
  s.wshape[1] = xshape[1];
  s.gshape = {N, groups, N * groups > 0 ? T::shape_numel(xshape) / (N * groups) : 0};
  return s;
}

}  // namespace

Var group_norm(const Var& x, int64_t groups, const Var& weight, const Var& bias, double eps) {
  T::NormOutput f =
      T::group_norm(x.value(), groups, value_or_none(weight), value_or_none(bias), eps);
  const bool has_w = weight.defined(), has_b = bias.defined();
  // x and the weight are read by the dx and dweight formulas; a bias-only gradient needs neither.
  const bool need_x = x.requires_grad() || (has_w && weight.requires_grad());
  std::vector<SavedVar> saved{
      need_x ? save(x) : SavedVar{}, has_w && need_x ? save(weight) : SavedVar{},
      need_x ? save_tensor(f.mean) : SavedVar{}, need_x ? save_tensor(f.rstd) : SavedVar{}};
  return make_result(
      f.y, "group_norm", {x, weight, bias}, std::move(saved),
      [groups, eps, has_w, has_b, xshape = x.shape()](BackwardContext& c) {
        std::vector<Var> g(3);
        const Var& gy = c.grad_output;
        const GroupShapes gs = group_shapes(xshape, groups);
        const bool need_x = c.needs_input_grad(0) || (has_w && c.needs_input_grad(1));
        if (need_x && GradMode::is_enabled()) {
          const Var& xv = c.saved[0];
          Var gw = has_w ? mul(gy, reshape(c.saved[1], gs.wshape)) : gy;
          const Normalised nx = composed_normalise(reshape(xv, gs.gshape), {2}, eps);
          if (c.needs_input_grad(0))
            g[0] = reshape(composed_norm_dx(nx, reshape(gw, gs.gshape), {2}), xshape);
          if (has_w && c.needs_input_grad(1))
            g[1] = sum(mul(gy, reshape(nx.xhat, xshape)), gs.pdims);
        } else if (need_x) {
          std::vector<Tensor> r =
              T::group_norm_backward(gy.value(), c.saved[0].value(), groups, c.saved[2].value(),
                                     c.saved[3].value(), has_w ? c.saved[1].value() : Tensor());
          if (c.needs_input_grad(0)) g[0] = Var(r[0]);
          if (has_w && c.needs_input_grad(1)) g[1] = Var(r[1]);
          if (has_b && c.needs_input_grad(2) && has_w) g[2] = Var(r[2]);
        }
        if (has_b && c.needs_input_grad(2) && !g[2].defined()) g[2] = sum(gy, gs.pdims);
        return g;
      });
}

// silu(group_norm(x)) as one node. It saves x (not the group norm's output) and recomputes the
// norm's output in its backward; every gradient, the bias's too, goes through σ' of it. On CUDA
// (no fused kernel yet) it is the two nodes group_norm and silu.
Var group_norm_silu(const Var& x, int64_t groups, const Var& weight, const Var& bias, double eps) {
  if (x.defined() && !x.value().device().is_cpu())
    return silu(group_norm(x, groups, weight, bias, eps));
  T::NormOutput f =
      T::group_norm_silu(x.value(), groups, value_or_none(weight), value_or_none(bias), eps);
  const bool has_w = weight.defined(), has_b = bias.defined();
  std::vector<SavedVar> saved{save(x), has_w ? save(weight) : SavedVar{},
                              has_b ? save(bias) : SavedVar{}, save_tensor(f.mean),
                              save_tensor(f.rstd)};
  return make_result(
      f.y, "group_norm_silu", {x, weight, bias}, std::move(saved),
      [groups, eps, has_w, has_b, xshape = x.shape()](BackwardContext& c) {
        std::vector<Var> g(3);
        const Var& gy = c.grad_output;
        const bool want_w = has_w && c.needs_input_grad(1), want_b = has_b && c.needs_input_grad(2);
        if (!GradMode::is_enabled()) {
          std::vector<Tensor> r = T::group_norm_silu_backward(
              gy.value(), c.saved[0].value(), groups, c.saved[3].value(), c.saved[4].value(),
              has_w ? c.saved[1].value() : Tensor(), has_b ? c.saved[2].value() : Tensor());
          if (c.needs_input_grad(0)) g[0] = Var(r[0]);
          if (want_w) g[1] = Var(r[1]);
          if (want_b) g[2] = Var(r[2]);
          return g;
        }
        // Under create_graph: the same formulas from Var ops, so higher derivatives are exact.
        const GroupShapes gs = group_shapes(xshape, groups);
        const Normalised nx = composed_normalise(reshape(c.saved[0], gs.gshape), {2}, eps);
        const Var xhat = reshape(nx.xhat, xshape);
        Var h = has_w ? mul(xhat, reshape(c.saved[1], gs.wshape)) : xhat;
        if (has_b) h = add(h, reshape(c.saved[2], gs.wshape));
        const Var dh = mul(gy, silu_grad(h));
        if (c.needs_input_grad(0)) {
          const Var gw = has_w ? mul(dh, reshape(c.saved[1], gs.wshape)) : dh;
          g[0] = reshape(composed_norm_dx(nx, reshape(gw, gs.gshape), {2}), xshape);
        }
        if (want_w) g[1] = sum(mul(dh, xhat), gs.pdims);
        if (want_b) g[2] = sum(dh, gs.pdims);
        return g;
      });
}

Var layer_norm(const Var& x, int64_t normalized_ndim, const Var& weight, const Var& bias,
               double eps) {
  T::NormOutput f =
      T::layer_norm(x.value(), normalized_ndim, value_or_none(weight), value_or_none(bias), eps);
  const bool has_w = weight.defined(), has_b = bias.defined();
  const bool need_x = x.requires_grad() || (has_w && weight.requires_grad());
  std::vector<SavedVar> saved{
      need_x ? save(x) : SavedVar{}, has_w && need_x ? save(weight) : SavedVar{},
      need_x ? save_tensor(f.mean) : SavedVar{}, need_x ? save_tensor(f.rstd) : SavedVar{}};
  return make_result(
      f.y, "layer_norm", {x, weight, bias}, std::move(saved),
      [normalized_ndim, eps, has_w, has_b, xshape = x.shape()](BackwardContext& c) {
        std::vector<Var> g(3);
        const Var& gy = c.grad_output;
        const int64_t nd = int64_t(xshape.size());
        const Shape pshape(xshape.end() - normalized_ndim, xshape.end());
        // Reduce the leading (batch) dims for the parameter gradients; none when the whole
        // tensor is normalised (sum_to is then the identity).
        auto to_param = [&pshape](const Var& v) { return sum_to(v, pshape); };
        const bool need_x = c.needs_input_grad(0) || (has_w && c.needs_input_grad(1));
        if (need_x && GradMode::is_enabled()) {
          const Var& xv = c.saved[0];
          Var gw = has_w ? mul(gy, c.saved[1]) : gy;
          const std::vector<int64_t> rdims = range_dims(nd - normalized_ndim, nd);
          const Normalised nx = composed_normalise(xv, rdims, eps);
          if (c.needs_input_grad(0)) g[0] = composed_norm_dx(nx, gw, rdims);
          if (has_w && c.needs_input_grad(1)) g[1] = to_param(mul(gy, nx.xhat));
        } else if (need_x) {
          std::vector<Tensor> r = T::layer_norm_backward(
              gy.value(), c.saved[0].value(), normalized_ndim, c.saved[2].value(),
              c.saved[3].value(), has_w ? c.saved[1].value() : Tensor());
          if (c.needs_input_grad(0)) g[0] = Var(r[0]);
          if (has_w && c.needs_input_grad(1)) g[1] = Var(r[1]);
          if (has_b && c.needs_input_grad(2) && has_w) g[2] = Var(r[2]);
        }
        if (has_b && c.needs_input_grad(2) && !g[2].defined()) g[2] = to_param(gy);
        return g;
      });
}

Var softmax(const Var& x, int64_t dim) {
  if (x.dim() == 0) return reshape(softmax(reshape(x, {1}), 0), {});
  const int64_t d = T::normalize_dim(dim, x.dim(), "softmax");
  // dx = y·g − y·Σ(y·g)
  return make_result(
      T::softmax(x.value(), d), "softmax", {x}, {},
      [d](BackwardContext& c) {
        const Var& y = c.saved[0];
        Var gy = mul(c.grad_output, y);
        return std::vector<Var>{sub(gy, mul(y, sum(gy, {d}, true)))};
      },
      true);
}

Var log_softmax(const Var& x, int64_t dim) {
  if (x.dim() == 0) return reshape(log_softmax(reshape(x, {1}), 0), {});
  const int64_t d = T::normalize_dim(dim, x.dim(), "log_softmax");
  // dx = g − exp(y)·Σg
  return make_result(
      T::log_softmax(x.value(), d), "log_softmax", {x}, {},
      [d](BackwardContext& c) {
        const Var& y = c.saved[0];
        const Var& g = c.grad_output;
        return std::vector<Var>{sub(g, mul(exp(y), sum(g, {d}, true)))};
      },
      true);
}

}  // namespace difflab::ag

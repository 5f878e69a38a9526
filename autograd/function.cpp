#include "autograd/function.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/ops.h"

namespace difflab::ag {

bool any_requires_grad(const std::vector<Var>& inputs) {
  for (const auto& v : inputs)
    if (v.defined() && v.requires_grad()) return true;
  return false;
}

bool should_record(const std::vector<Var>& inputs) {
  return GradMode::is_enabled() && any_requires_grad(inputs);
}

namespace {
thread_local std::string g_backward_ctx;
}  // namespace

BackwardScope::BackwardScope(std::string what) : prev_(std::move(g_backward_ctx)) {
  g_backward_ctx = std::move(what);
}
BackwardScope::~BackwardScope() { g_backward_ctx = std::move(prev_); }

void check_anomaly(const Tensor& t, const std::string& what) {
  if (!AnomalyGuard::is_enabled() || !t.defined() || !tensor::is_floating(t.dtype())) return;
  // x - x is NaN exactly where x is NaN or ±Inf.
  Tensor d = tensor::binary(tensor::BinaryOp::sub, t, t);
  Tensor bad = tensor::binary(tensor::BinaryOp::ne, d, d);
  double n = tensor::sum(bad.to(DType::f64), {}).item();
  if (n > 0)
    DIFFLAB_FAIL("anomaly: ", what,
                 g_backward_ctx.empty() ? std::string() : " during " + g_backward_ctx,
                 " produced ", int64_t(n), " NaN/Inf value(s) in a tensor ",
                 t.desc());
}

namespace {
// Where a forward op's input came from: "linear <- silu <- add ..." along the first recorded
// input, so an anomaly names the op and the chain of ops that led to it.
std::string forward_path(const std::vector<Var>& inputs) {
  const Node* n = nullptr;
  for (const auto& v : inputs)
    if (v.defined() && v.node()) {
      n = v.node().get();
      break;
    }
  if (!n) return "";
  std::string p;
  for (int hops = 0; n && hops < 8; ++hops) {
    p += (p.empty() ? "" : " <- ") + n->op;
    const Node* next = nullptr;
    for (const auto& c : n->inputs)
      if (c) {
        next = c.get();
        break;
      }
    n = next;
  }
  return " (its input came from " + p + (n ? " <- ..." : "") + ")";
}
}  // namespace

Var make_result(Tensor value, const char* op, const std::vector<Var>& inputs,
                std::vector<SavedVar> saved, BackwardFn fn, bool save_out) {
  if (AnomalyGuard::is_enabled())
    check_anomaly(value, std::string("forward of '") + op + "'" + forward_path(inputs));
  if (!should_record(inputs)) return Var(std::move(value));
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs.reserve(inputs.size());
  for (const auto& v : inputs) {
    node->inputs.push_back(v.defined() ? v.node() : nullptr);
    node->input_shapes.push_back(v.defined() ? v.shape() : Shape{});
  }
  node->saved = std::move(saved);
  node->backward = std::move(fn);
  node->out_shape = value.shape();
  node->out_dtype = value.dtype();
  node->seq = next_node_seq();
  Var out(std::move(value), node);
  if (save_out) node->saved.push_back(save_output(out));
  return out;
}

}  // namespace difflab::ag

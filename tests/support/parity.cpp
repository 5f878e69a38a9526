#include "tests/support/parity.h"

#include <algorithm>
#include <cmath>

#include "autograd/engine.h"
#include "tensor/ops.h"

namespace difflab::testing {

using tensor::Device;
using tensor::DType;

namespace {

// The same values on `device`, in every other element of a larger NaN-filled buffer there.
Tensor noncontiguous_on(const Tensor& t, Device device) {
  if (t.dim() == 0) return t.to(device);
  Shape big = t.shape();
  big.back() *= 2;
  Tensor buf = Tensor::empty(big, t.dtype(), device);
  buf.fill_(std::nan(""));
  Tensor v = buf.slice(t.dim() - 1, 0, big.back(), 2);
  v.copy_(t);
  return v;
}

struct Result {
  Tensor y;
  std::vector<Tensor> grads;
};

Result evaluate(const OpCase& c, const std::vector<Tensor>& vals, uint64_t cot_seed,
                Device device, bool strided) {
  std::vector<Var> xs;
  for (const auto& v : vals) xs.emplace_back(strided ? noncontiguous_on(v, device) : v.to(device),
                                             true);
  Var y = c.fn(xs);
  Result r{y.value(), {}};
  if (!y.requires_grad()) return r;
  // The cotangent: the same seeded f64 values on both devices, shaped like y.
  tensor::Generator gen(cot_seed);
  Tensor g = tensor::randn(y.value().shape(), DType::f64, &gen);
  auto gs = ag::grad({y}, xs, {Var(g.to(y.value().dtype()).to(device))}, false, true);
  for (auto& v : gs) r.grads.push_back(v.value());
  return r;
}

}  // namespace

ParityReport run_parity_table(const std::vector<OpCase>& cases, const Device& gpu) {
  ParityReport rep;
  for (const auto& c : cases) {
    rep.cases++;
    for (DType dt : {DType::f64, DType::f32}) {
      tensor::Generator gen(42);
      std::vector<Tensor> vals;
      for (const auto& s : c.inputs) vals.push_back(make_input(s, gen).to(dt));
      const uint64_t cot = 4242;
      const double tol = dt == DType::f64 ? 1e-9 : std::max(2e-4, 10 * c.rtol);
      for (int layout = 0; layout < (c.strided ? 2 : 1); ++layout) {
        std::string what = c.name + (dt == DType::f64 ? " f64" : " f32") +
                           (layout ? " strided" : "");
        try {
          Result cpu = evaluate(c, vals, cot, Device::cpu(), layout == 1);
          Result dev = evaluate(c, vals, cot, gpu, layout == 1);
          BOOST_CHECK_MESSAGE(dev.y.device() == gpu,
                              what << ": output on " << dev.y.device() << ", expected " << gpu);
          auto compare = [&](const Tensor& a, const Tensor& b, const std::string& part) {
            rep.comparisons++;
            double d = scaled_max_diff(a, b);
            BOOST_CHECK_MESSAGE(d <= tol, what << " " << part << ": scaled max difference " << d
                                               << " exceeds " << tol);
            if (!(d <= tol)) rep.failures++;
          };
          compare(dev.y, cpu.y, "forward");
          BOOST_CHECK_MESSAGE(dev.grads.size() == cpu.grads.size(), what << ": gradient count");
          for (size_t i = 0; i < std::min(dev.grads.size(), cpu.grads.size()); ++i)
            compare(dev.grads[i], cpu.grads[i], "gradient of input " + std::to_string(i));
        } catch (const std::exception& e) {
          rep.failures++;
          BOOST_ERROR(what << " threw: " << e.what());
        }
      }
    }
  }
  BOOST_TEST_MESSAGE("cuda parity: " << rep.cases << " cases, " << rep.comparisons
                                     << " comparisons, " << rep.failures << " failures");
  return rep;
}

}  // namespace difflab::testing

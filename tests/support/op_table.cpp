#include "tests/support/op_table.h"

#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/functions.h"
#include "tensor/ops.h"

namespace difflab::testing {

Tensor make_input(const InputSpec& spec, tensor::Generator& gen) {
  switch (spec.domain) {
    case Domain::positive: return tensor::uniform(spec.shape, 0.5, 2.0, tensor::DType::f64, &gen);
    case Domain::unit: return tensor::uniform(spec.shape, -0.9, 0.9, tensor::DType::f64, &gen);
    case Domain::any: break;
  }
  return tensor::randn(spec.shape, tensor::DType::f64, &gen);
}

Tensor make_noncontiguous(const Tensor& t) {
  if (t.dim() == 0) return t;
  Shape big = t.shape();
  big.back() *= 2;
  Tensor buf = Tensor::empty(big, t.dtype());
  buf.fill_(std::nan(""));  // the skipped elements must never be read
  Tensor v = buf.slice(t.dim() - 1, 0, big.back(), 2);
  v.copy_(t);
  return v;
}

TableReport run_gradcheck_table(const std::vector<OpCase>& cases) {
  TableReport rep;
  for (const auto& c : cases) {
    rep.cases++;
    tensor::Generator gen(42);
    std::vector<Tensor> vals;
    for (const auto& s : c.inputs) vals.push_back(make_input(s, gen));
    ag::GradcheckOptions opt;
    opt.atol = c.atol;
    opt.rtol = c.rtol;
    for (int layout = 0; layout < (c.strided ? 2 : 1); ++layout) {
      std::vector<Var> xs;
      for (const auto& v : vals) xs.emplace_back(layout ? make_noncontiguous(v) : v.clone(), true);
      const char* lname = layout ? " (strided inputs)" : "";
      try {
        auto r = ag::gradcheck(c.fn, xs, opt);
        rep.first_order++;
        BOOST_CHECK_MESSAGE(r.ok, c.name << lname << " gradcheck: " << r.message);
        if (!r.ok) rep.failures++;
        if (c.second_order && layout == 0) {
          auto r2 = ag::gradgradcheck(c.fn, xs, opt);
          rep.second_order++;
          BOOST_CHECK_MESSAGE(r2.ok, c.name << " gradgradcheck: " << r2.message);
          if (!r2.ok) rep.failures++;
        }
      } catch (const std::exception& e) {
        rep.failures++;
        BOOST_ERROR(c.name << lname << " threw: " << e.what());
      }
    }
  }
  BOOST_TEST_MESSAGE("op table: " << rep.cases << " cases, " << rep.first_order
                                  << " first-order and " << rep.second_order
                                  << " second-order gradchecks, " << rep.failures << " failures");
  return rep;
}

}  // namespace difflab::testing

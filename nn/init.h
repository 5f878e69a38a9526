// PyTorch's default parameter initialisation, drawn from an explicit Philox generator so that a
// seed fixes the model. nn.Linear/nn.Conv2d use kaiming_uniform_(a=√5) for the weight, which is
// U(−1/√fan_in, 1/√fan_in), and the same range for the bias; nn.Embedding uses N(0, 1).
#pragma once
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace difflab::nn {

// fan_in of a weight [out, in, *kernel]: in · prod(kernel).
int64_t fan_in(const tensor::Shape& weight_shape);
// U(−1/√fan_in, 1/√fan_in) in f32; gen null means tensor::default_generator().
tensor::Tensor kaiming_uniform(const tensor::Shape& shape, int64_t fan_in,
                               tensor::Generator* gen = nullptr);
tensor::Tensor normal_init(const tensor::Shape& shape, double std,
                           tensor::Generator* gen = nullptr);

}  // namespace difflab::nn

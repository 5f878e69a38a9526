#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "tensor/allocator.h"
#if DIFFLAB_HAVE_CUDA
#include "tensor/cuda/allocator.h"
#include "tensor/cuda/runtime.h"
#endif
#include "tensor/op_label.h"
#include "tensor/ops.h"

namespace difflab::tensor {

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) {
  if (d.is_cpu()) {
    data = CpuAllocator::instance().allocate(n);
    return;
  }
  check_device_available(d);
#if DIFFLAB_HAVE_CUDA
  data = cuda::CudaAllocator::instance().allocate(n, d.index);
#endif
}

Storage::~Storage() {
  if (device.is_cpu()) {
    CpuAllocator::instance().deallocate(data, nbytes);
    return;
  }
#if DIFFLAB_HAVE_CUDA
  cuda::CudaAllocator::instance().deallocate(data, nbytes, device.index);
#endif
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto who = [] {
    std::string op = OpLabel::describe();
    return op.empty() ? std::string("Tensor::empty") : op;
  };
  // The extent (zero dims counted as 1) bounds the strides, so [0, 2^62, 2^62] is refused too.
  int64_t numel = 1, extent = 1;
  for (int64_t d : shape) {
    DIFFLAB_CHECK(d >= 0, who(), ": negative size in shape ", shape);
    DIFFLAB_CHECK(d == 0 || extent <= (int64_t(1) << 62) / d, who(), ": shape ", shape,
                  " has more than 2^62 elements");
    extent *= std::max<int64_t>(d, 1);
    numel *= d;
  }
  const uint64_t bytes = uint64_t(numel) * dtype_size(dtype);
  Tensor t;
  try {
    t.storage_ = std::make_shared<Storage>(size_t(bytes), device);
  } catch (const Error& e) {
    DIFFLAB_FAIL(who(), ": cannot allocate a ", dtype, shape, " tensor on ", device, ": ",
                 e.what());
  }
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

int64_t Tensor::size(int64_t d) const { return shape_[normalize_dim(d, dim(), "Tensor::size")]; }

bool Tensor::is_contiguous() const {
  int64_t acc = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != acc) return false;
    acc *= shape_[i];
  }
  return true;
}

static Shape infer_shape(const Shape& shape, int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      DIFFLAB_CHECK(infer < 0, op, ": only one dim may be -1, got ", shape);
      infer = int64_t(i);
    } else {
      DIFFLAB_CHECK(out[i] >= 0, op, ": invalid size in ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    DIFFLAB_CHECK(known > 0 && numel % known == 0, op, ": cannot reshape ", from, " (", numel,
                  " elements) into ", shape);
    out[infer] = numel / known;
  }
  DIFFLAB_CHECK(shape_numel(out) == numel, op, ": cannot reshape ", from, " (", numel,
                " elements) into ", shape);
  return out;
}

// Strides for viewing (shape_, strides_) as `target` without a copy, or empty if impossible.
static bool view_strides(const Shape& shape, const Shape& strides, const Shape& target,
                         Shape& out) {
  out.assign(target.size(), 0);
  int64_t numel = shape_numel(shape);
  if (numel == 0 || shape.empty()) {
    out = contiguous_strides(target);
    return true;
  }
  // Group source dims into contiguous chunks and map target dims onto them (as PyTorch does).
  int64_t view_d = int64_t(target.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || target[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= target[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

Tensor Tensor::view(const Shape& shape) const {
  Shape target = infer_shape(shape, numel(), "view", shape_);
  Shape st;
  DIFFLAB_CHECK(view_strides(shape_, strides_, target, st), "view: a tensor of shape ", shape_,
                " with strides ", strides_, " cannot be viewed as ", target,
                " without a copy (use reshape)");
  return as_strided(target, st, offset_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape target = infer_shape(shape, numel(), "reshape", shape_);
  Shape st;
  if (view_strides(shape_, strides_, target, st)) return as_strided(target, st, offset_);
  return contiguous().view(target);
}

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_ = strides;
  t.offset_ = offset;
  return t;
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  DIFFLAB_CHECK(int64_t(dims.size()) == dim(), "permute: got ", dims.size(),
                " dims for a tensor of shape ", shape_);
  Shape s(dims.size()), st(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = normalize_dim(dims[i], dim(), "permute");
    DIFFLAB_CHECK(!seen[d], "permute: dim ", d, " repeated in ", Shape(dims));
    seen[d] = true;
    s[i] = shape_[d];
    st[i] = strides_[d];
  }
  return as_strided(s, st, offset_);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  d0 = normalize_dim(d0, dim(), "transpose");
  d1 = normalize_dim(d1, dim(), "transpose");
  Shape s = shape_, st = strides_;
  std::swap(s[d0], s[d1]);
  std::swap(st[d0], st[d1]);
  return as_strided(s, st, offset_);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = normalize_dim(d, dim(), "slice");
  DIFFLAB_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = shape_[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape_, st = strides_;
  s[d] = (end - start + step - 1) / step;
  st[d] = strides_[d] * step;
  return as_strided(s, st, offset_ + start * strides_[d]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = normalize_dim(d, dim(), "select");
  int64_t n = shape_[d];
  DIFFLAB_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dim ", d,
                " of size ", n);
  if (index < 0) index += n;
  Shape s = shape_, st = strides_;
  int64_t off = offset_ + index * strides_[d];
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return as_strided(s, st, off);
}

Tensor Tensor::expand(const Shape& shape) const {
  DIFFLAB_CHECK(int64_t(shape.size()) >= dim(), "expand: cannot expand ", shape_, " to ", shape);
  Shape st(shape.size(), 0);
  Shape s = shape;
  int64_t off = int64_t(shape.size()) - dim();
  for (int64_t i = 0; i < int64_t(shape.size()); ++i) {
    if (i < off) {
      DIFFLAB_CHECK(shape[i] >= 0, "expand: cannot expand ", shape_, " to ", shape);
      continue;
    }
    int64_t src = shape_[i - off];
    if (shape[i] == -1) s[i] = src;
    DIFFLAB_CHECK(src == s[i] || src == 1, "expand: cannot expand ", shape_, " to ", shape,
                  " (dim ", i, ")");
    st[i] = src == s[i] ? strides_[i - off] : 0;
  }
  return as_strided(s, st, offset_);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = normalize_dim(d, dim(), "squeeze");
  if (shape_[d] != 1) return *this;
  Shape s = shape_, st = strides_;
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return as_strided(s, st, offset_);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = normalize_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape_, st = strides_;
  int64_t stride = d < dim() ? strides_[d] * shape_[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return as_strided(s, st, offset_);
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  OpLabel label_("clone");
  Tensor out = empty(shape_, dtype_, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType dt) const {
  OpLabel label_("to");
  if (dt == dtype_) return *this;
  Tensor out = empty(shape_, dt, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device dev) const {
  if (dev == device()) return *this;
  OpLabel label_("to");
  check_device_available(dev);
#if DIFFLAB_HAVE_CUDA
  const Device from = device();
  if (from.is_cuda() && dev.is_cuda()) return to(Device::cpu()).to(dev);  // via the host
  Tensor src = contiguous();
  Tensor out = empty(shape_, dtype_, dev);
  if (dev.is_cuda())
    cuda::copy_to_device(out.raw_data(), src.raw_data(), nbytes(), dev.index);
  else
    cuda::copy_to_host(out.raw_data(), src.raw_data(), nbytes(), from.index);
  return out;
#else
  DIFFLAB_FAIL("Tensor::to: device ", dev, " is not available (CUDA backend not built)");
#endif
}

void Tensor::copy_(const Tensor& src) const { copy_into(*this, src); }

void Tensor::fill_(double v) const { fill(*this, v); }

double Tensor::item() const {
  DIFFLAB_CHECK(numel() == 1, "item: tensor of shape ", shape_, " has ", numel(),
                " elements, expected 1");
  if (!device().is_cpu()) return to(Device::cpu()).item();
  return DIFFLAB_DISPATCH_ALL(dtype_, "item", [&] {
    return double(*static_cast<const scalar_t*>(raw_data()));
  });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = to(Device::cpu()).to(DTypeOf<T>::value).contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;

std::string Tensor::desc() const {
  std::ostringstream os;
  os << dtype_ << shape_ << " " << device();
  return os.str();
}

std::string Tensor::str(int64_t max_elements) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(" << desc() << ")";
  if (numel() == 0) return os.str();
  std::vector<double> v = to(DType::f64).to_vector<double>();
  Shape st = contiguous_strides(shape_);
  os << "\n";
  os << std::setprecision(6);
  int64_t shown = std::min<int64_t>(numel(), max_elements);
  for (int64_t i = 0; i < shown; ++i) {
    for (int64_t d = 0; d < dim(); ++d)
      if (i % (st[d] * shape_[d]) == 0) os << '[';
    os << v[i];
    int closes = 0;
    for (int64_t d = 0; d < dim(); ++d)
      if ((i + 1) % (st[d] * shape_[d]) == 0) closes++;
    for (int c = 0; c < closes; ++c) os << ']';
    if (i + 1 < shown) os << (closes ? ",\n" : ", ");
  }
  if (shown < numel()) os << ", ... (" << numel() << " elements)";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace difflab::tensor

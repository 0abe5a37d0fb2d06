// `starc convert IN... -o OUT.npy`: FITS, CSV, .npy or .npz inputs (tensor specs,
// docs/data.md) into one model-ready .npy. With --resample-loglam every input is a 1-D
// spectrum put onto that log10-wavelength grid (flux-conserving) and optionally
// normalised, giving [N, 1, L] for N inputs; without it one input is written as it is
// read and several are stacked along a new first axis.
#include "tools/starc/convert_cmd.h"

#include <fmt/format.h>

#include <cstring>
#include <new>
#include <sstream>

#include "runtime/io/file_io.h"
#include "runtime/io/fits.h"
#include "runtime/io/npy.h"
#include "runtime/io/spectrum_resample.h"
#include "runtime/io/tensor_file.h"
#include "tools/starc/cli_common.h"

namespace starc {
namespace {

using cli::CliError;

struct Options {
  std::vector<std::string> inputs;
  std::string out, grid, normalize = "none", dtype;  // dtype empty: as read
  bool quiet = false;
};

// The inputs with every @LIST replaced by the specs in LIST (one a line; blank lines and
// '#' comments skipped).
std::vector<std::string> expand_lists(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  for (auto& in : inputs) {
    if (in.empty() || in[0] != '@') {
      out.push_back(in);
      continue;
    }
    std::string text;
    try {
      text = read_data_file(in.substr(1));
    } catch (const std::exception& e) {
      throw CliError(fmt::format("the list of inputs {}", e.what()));
    }
    std::istringstream list(text);
    std::string line;
    while (std::getline(list, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty() && line[0] != '#') out.push_back(line);
    }
  }
  if (out.empty()) throw CliError("no inputs (an @LIST file was empty)");
  return out;
}

Tensor convert_spectra(const std::vector<std::string>& inputs, const Options& o, DType dtype) {
  LogLamGrid grid = parse_loglam_grid(o.grid);
  SpectrumNorm norm = parse_spectrum_norm(o.normalize);
  uint64_t bytes = 0;  // the f64 result and its f32 copy
  if (!checked_mul(uint64_t(inputs.size()), uint64_t(grid.n), &bytes) || !checked_mul(bytes, 12, &bytes))
    bytes = UINT64_MAX;
  check_allocation(bytes, fmt::format("{}: {} spectra of {} pixels", o.out, inputs.size(), grid.n));
  Tensor out(DType::F64, {int64_t(inputs.size()), 1, grid.n});
  double* data = out.data<double>();
  int64_t total_outside = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    FitsSpectrum s = read_fits_spectrum(inputs[k]);
    ResampledSpectrum r = resample_spectrum(s.loglam, s.flux, s.ivar, grid);
    bool scaled = normalize_spectrum(r, norm);
    std::copy(r.flux.begin(), r.flux.end(), data + int64_t(k) * grid.n);
    total_outside += r.outside;
    if (r.outside + r.masked == grid.n)
      throw CliError(
          fmt::format("{}: no pixel of the spectrum (log10 lambda {:.4f}..{:.4f}) falls on the grid "
                      "{:.4f}..{:.4f}",
                      s.source, s.loglam.front(), s.loglam.back(), grid.start, grid.stop));
    if (!o.quiet)
      fmt::print(
          "{}: {} pixels, log10 lambda {:.4f}..{:.4f} -> {} pixels; {} outside the observed range, {} without "
          "usable data (set to 0){}\n",
          s.source, s.flux.size(), s.loglam.front(), s.loglam.back(), grid.n, r.outside, r.masked,
          scaled ? "" : "; constant spectrum: centred, not scaled");
  }
  if (o.quiet && total_outside)
    fmt::print("{} pixels in all fell outside the observed ranges (set to 0)\n", total_outside);
  return convert_dtype(out, dtype, o.out);
}

// `dtype` empty: each input's own (its :TYPE, f32 for FITS and CSV, a .npy's dtype).
Tensor convert_tensors(const std::vector<std::string>& inputs, std::optional<DType> dtype) {
  auto read = [&](const std::string& in) {
    Tensor t = read_tensor_file(in);
    return dtype ? convert_dtype(t, *dtype, in) : t;
  };
  if (inputs.size() == 1) return read(inputs[0]);
  std::vector<Tensor> parts;
  for (auto& in : inputs) {
    parts.push_back(read(in));
    if (parts.back().dtype() != parts[0].dtype())
      throw CliError(fmt::format("{} is {} but {} is {}: stacked inputs need one element type (--dtype)", in,
                                 type_str(parts.back().type()), inputs[0], type_str(parts[0].type())));
    if (parts.back().shape() != parts[0].shape())
      throw CliError(
          fmt::format("{} is {} but {} is {}: stacked inputs need one shape (spectra of different grids: "
                      "--resample-loglam)",
                      in, type_str(parts.back().type()), inputs[0], type_str(parts[0].type())));
  }
  Shape shape = parts[0].shape();
  shape.insert(shape.begin(), int64_t(parts.size()));
  Tensor out(parts[0].dtype(), shape);
  size_t bytes = parts[0].nbytes();
  for (size_t k = 0; k < parts.size(); ++k) std::memcpy(out.data<std::byte>() + k * bytes, parts[k].raw(), bytes);
  return out;
}

int run(const Options& o) {
  std::vector<std::string> inputs = expand_lists(o.inputs);
  std::optional<DType> dtype;
  if (!o.dtype.empty()) dtype = dtype_from_name(o.dtype);
  if (o.grid.empty() && o.normalize != "none")
    throw CliError("--normalize works on spectra: give --resample-loglam too (sdss for the default grid)");
  Tensor t;
  try {
    t = o.grid.empty() ? convert_tensors(inputs, dtype) : convert_spectra(inputs, o, dtype.value_or(DType::F32));
  } catch (const std::bad_alloc&) {
    throw CliError(fmt::format("{}: out of memory converting {} input{} ({}{})", o.out, inputs.size(),
                               inputs.size() == 1 ? "" : "s", inputs[0], inputs.size() > 1 ? ", ..." : ""));
  }
  write_npy(o.out, t);
  fmt::print("wrote {} to {}\n", type_str(t.type()), o.out);
  return 0;
}

}  // namespace

ConvertCommand add_convert_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  ConvertCommand c;
  c.app = app.add_subcommand("convert", "Convert FITS / CSV / .npy inputs (spectra: resampled) into one .npy");
  c.app
      ->add_option("inputs", o->inputs,
                   "tensor specs (docs/data.md: file.fits[HDU]#COLUMNS:TYPE, cat.csv#a,b, x.npy) or @LIST, a file "
                   "of them")
      ->required();
  c.app->add_option("-o,--output", o->out, "the .npy to write")->required();
  c.app->add_option("--resample-loglam", o->grid,
                    "read each input as a spectrum and resample it (flux-conserving) onto START,STOP,N in log10 "
                    "Angstrom, or sdss = 3.5522,4.0139,4618; output [N, 1, L]");
  c.app
      ->add_option("--normalize", o->normalize,
                   "with --resample-loglam, per spectrum: none (default), zero-mean (subtract the mean), "
                   "standardize (also divide by the standard deviation)")
      ->check(CLI::IsMember({"none", "zero-mean", "standardize"}));
  c.app
      ->add_option("--dtype", o->dtype, "element type written: f32 or f64 (default: spectra f32, other inputs as read)")
      ->check(CLI::IsMember({"f32", "f64"}));
  c.app->add_flag("--quiet,-q", o->quiet, "no line per spectrum (a total of pixels outside the observed ranges only)");
  c.run = [o]() { return cli::run_guarded([&] { return run(*o); }); };
  return c;
}

}  // namespace starc

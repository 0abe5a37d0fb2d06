// `starc convert IN... -o OUT.npy`: FITS, CSV, .npy or .npz inputs (tensor specs,
// docs/data.md) into one model-ready .npy. With --resample-loglam every input is a 1-D
// spectrum put onto that log10-wavelength grid (flux-conserving) and optionally
// normalised, giving [N, 1, L] for N spectra — SDSS spec-*.fits and DESI coadd-*.fits
// files (runtime/io/survey_spectra.h) with bad pixels masked, folders and patterns of
// them, labels optionally as .npy files, and every choice in OUT.json; without it one
// input is written as it is read and several are stacked along a new first axis.
#include "tools/starc/convert_cmd.h"

#include <fmt/format.h>

#include <glob.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <new>
#include <sstream>

#include "runtime/io/file_io.h"
#include "runtime/io/fits.h"
#include "runtime/io/image_cutouts.h"
#include "runtime/io/light_curves.h"
#include "runtime/io/npy.h"
#include "runtime/io/spectrum_resample.h"
#include "runtime/io/survey_spectra.h"
#include "runtime/io/tensor_file.h"
#include "tools/starc/cli_common.h"
#include "tools/starc/eval_report.h"  // jstr: a JSON string

namespace starc {
namespace {

namespace fs = std::filesystem;
using cli::CliError;
using eval::jstr;

struct Options {
  std::vector<std::string> inputs;
  std::string out, grid, normalize = "none", dtype;  // dtype empty: as read
  std::string out_z, out_class;                      // label files (spectra with labels)
  bool light_curves = false;
  std::string bands = "g,r,i,z";
  int64_t epochs = 40;
  int64_t cutout = 0;  // > 0: image cut-outs of this size
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

// '*' or '?' only: '[' starts a FITS HDU selector in a tensor spec.
bool is_glob(const std::string& s) { return s.find_first_of("*?") != std::string::npos; }

// A readable FITS file that read_fits_spectrum does not take (a catalog, DESI's
// redrock-*.fits) is no spectrum; one that cannot be read at all is an error.
bool looks_like_spectrum(const std::string& file) {
  try {
    (void)read_fits_spectrum(file);
    return true;
  } catch (const std::runtime_error&) {
    return false;
  }
}

std::string sidecar_path(const std::string& out) { return fs::path(out).replace_extension(".json").string(); }

bool fits_name(const fs::path& p) {
  std::string name = p.filename().string();
  for (const char* ext : {".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz"})
    if (name.size() > std::strlen(ext) && name.compare(name.size() - std::strlen(ext), std::string::npos, ext) == 0)
      return true;
  return false;
}

// The inputs with every folder replaced by its FITS files and every glob pattern (that is
// not itself a file) by its matches, each sorted by name; of those, files that are not
// spectra (DESI's redrock-*.fits, catalogs) are left out with a note (also with --quiet:
// it says which files the tensor does not come from). Files named one by one are kept.
std::vector<std::string> expand_folders(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  for (auto& in : inputs) {
    std::error_code ec;
    std::vector<std::string> found;
    if (fs::is_directory(in, ec)) {
      for (auto& e : fs::directory_iterator(in, ec))
        if (e.is_regular_file() && fits_name(e.path())) found.push_back(e.path().string());
      if (ec) throw CliError(fmt::format("{}: cannot list the folder: {}", in, ec.message()));
      if (found.empty()) throw CliError(fmt::format("{}: the folder holds no .fits files", in));
    } else if (is_glob(in) && !fs::exists(in, ec)) {
      glob_t g{};
      int rc = glob(in.c_str(), 0, nullptr, &g);
      for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) found.push_back(g.gl_pathv[i]);
      globfree(&g);
      if (found.empty()) throw CliError(fmt::format("{}: no file matches the pattern", in));
    } else {
      out.push_back(in);
      continue;
    }
    std::sort(found.begin(), found.end());
    size_t kept = 0;
    for (auto& f : found) {
      if (spectrum_file_kind(f) == SpectrumFileKind::Other && !looks_like_spectrum(f)) {
        fmt::print("{}: left out (not a spectrum: no COADD or B/R/Z_FLUX HDU, no flux/loglam table)\n", f);
        continue;
      }
      out.push_back(f);
      ++kept;
    }
    if (!kept) throw CliError(fmt::format("{}: none of its {} FITS file(s) is a spectrum", in, found.size()));
  }
  return out;
}

// One spectrum to convert and what became of it (a line of the sidecar JSON).
struct Converted {
  SurveySpectrum s;
  std::string format;  // sdss, desi, fits
  int64_t outside = 0, no_data = 0;
};

// A plain FITS file (no [HDU], #columns or :TYPE): may be a survey file.
bool plain_fits(const std::string& input) {
  TensorSpec spec = parse_tensor_spec(input);
  return spec.format == TensorFormat::Fits && spec.file == spec.path && spec.columns.empty() && !spec.dtype &&
         spec.dims.empty();
}

// The spectra of one input: an SDSS or DESI file's by its reader, any other FITS
// spectrum (docs/data.md, "FITS") by read_fits_spectrum.
std::vector<Converted> read_spectra(const std::string& input) {
  std::vector<Converted> out;
  SpectrumFileKind kind = plain_fits(input) ? spectrum_file_kind(input) : SpectrumFileKind::Other;
  if (kind != SpectrumFileKind::Other) {
    for (auto& s : read_survey_spectra(input))
      out.push_back({std::move(s), kind == SpectrumFileKind::Sdss ? "sdss" : "desi"});
    return out;
  }
  FitsSpectrum f = read_fits_spectrum(input);
  Converted c{{}, "fits"};
  c.s.file = f.source;
  c.s.loglam = std::move(f.loglam);
  c.s.flux = std::move(f.flux);
  c.s.ivar = std::move(f.ivar);
  out.push_back(std::move(c));
  return out;
}

// Class codes of --out-class: the simulator's labels (0 galaxy, 1 quasar) and 2 star.
int64_t class_code(const Converted& c) {
  if (c.s.spectype == "GALAXY") return 0;
  if (c.s.spectype == "QSO") return 1;
  if (c.s.spectype == "STAR") return 2;
  throw CliError(
      fmt::format("{}: class '{}' (from {}) is not GALAXY, QSO or STAR", c.s.source(), c.s.spectype, c.s.labels_from));
}

void write_labels(const std::vector<Converted>& all, const Options& o) {
  for (auto& c : all)
    if (!c.s.z)
      throw CliError(
          fmt::format("{}: no labels for --out-z / --out-class (an SDSS file needs a SPALL or SPECOBJ "
                      "HDU, a DESI coadd a REDSHIFTS HDU or its redrock-*.fits beside it)",
                      c.s.source()));
  int64_t n = int64_t(all.size());
  if (!o.out_z.empty()) {
    Tensor z(DType::F32, {n, 1});
    for (int64_t i = 0; i < n; ++i) z.data<float>()[i] = float(*all[size_t(i)].s.z);
    write_npy(o.out_z, z);
    fmt::print("wrote {} to {}\n", type_str(z.type()), o.out_z);
  }
  if (!o.out_class.empty()) {
    Tensor cls(DType::I64, {n});
    for (int64_t i = 0; i < n; ++i) cls.data<int64_t>()[i] = class_code(all[size_t(i)]);
    write_npy(o.out_class, cls);
    fmt::print("wrote {} to {}\n", type_str(cls.type()), o.out_class);
  }
}

// OUT.json beside OUT.npy: every choice that made the tensor, and its rows' sources in
// order, so that a training run on it can be reproduced (docs/data.md, "Sidecar").
void write_sidecar(const std::vector<Converted>& all, const std::vector<std::string>& inputs, const LogLamGrid& grid,
                   const Options& o) {
  std::string j = "{\n  \"written_by\": \"starc convert\",\n";
  j += fmt::format("  \"output\": {},\n  \"shape\": [{}, 1, {}],\n  \"dtype\": {},\n", jstr(o.out), all.size(), grid.n,
                   jstr(o.dtype.empty() ? "f32" : o.dtype));
  j += fmt::format(
      "  \"grid\": {{\"log10_lambda_start\": {:.17g}, \"log10_lambda_stop\": {:.17g}, \"pixels\": {}, "
      "\"step\": {:.17g}, \"unit\": \"log10 Angstrom (vacuum)\"}},\n",
      grid.start, grid.stop, grid.n, grid.n > 1 ? (grid.stop - grid.start) / double(grid.n - 1) : 0.0);
  j += "  \"resampling\": \"flux-conserving: each output pixel the mean flux density over its bin, input pixels "
       "weighted by their overlap in log10 lambda\",\n";
  j += "  \"masking\": \"a pixel is bad when and_mask (SDSS) or MASK (DESI) is not 0, ivar <= 0, or flux or "
       "ivar is not finite; bad pixels carry no weight in the resampling; output pixels no usable input covers, or "
       "outside the observed range, are 0\",\n";
  j += "  \"desi_arms\": \"B, R, Z merged on their common wavelengths: flux the ivar-weighted mean, ivar the "
       "sum\",\n";
  j += fmt::format("  \"normalize\": {},\n", jstr(o.normalize));
  j += "  \"order\": \"inputs in the order given; a folder's or pattern's files sorted by name; a DESI file's rows "
       "in FIBERMAP order\",\n  \"inputs\": [";
  for (size_t i = 0; i < inputs.size(); ++i) j += (i ? ", " : "") + jstr(inputs[i]);
  j += "],\n";
  j += fmt::format(
      "  \"labels\": {{\"z\": {}, \"class\": {}, \"class_codes\": {{\"GALAXY\": 0, \"QSO\": 1, "
      "\"STAR\": 2}}}},\n  \"spectra\": [\n",
      o.out_z.empty() ? "null" : jstr(o.out_z), o.out_class.empty() ? "null" : jstr(o.out_class));
  for (size_t i = 0; i < all.size(); ++i) {
    const Converted& c = all[i];
    j += fmt::format(
        "    {{\"file\": {}, \"format\": \"{}\", \"row\": {}, \"id\": {}, \"z\": {}, \"class\": {}, "
        "\"bad_pixels\": {}, \"outside\": {}, \"no_data\": {}}}{}\n",
        jstr(c.s.file), c.format, c.s.row < 0 ? "null" : std::to_string(c.s.row),
        c.s.id.empty() ? "null" : jstr(c.s.id), c.s.z ? fmt::format("{:.9g}", *c.s.z) : "null",
        c.s.spectype.empty() ? "null" : jstr(c.s.spectype), c.s.bad_pixels, c.outside, c.no_data,
        i + 1 < all.size() ? "," : "");
  }
  j += "  ]\n}\n";
  std::string path = sidecar_path(o.out);
  write_file_atomic(path, j);
  fmt::print("wrote the conversion record to {}\n", path);
}

Tensor convert_spectra(const std::vector<std::string>& inputs, const Options& o, DType dtype) {
  LogLamGrid grid = parse_loglam_grid(o.grid);
  SpectrumNorm norm = parse_spectrum_norm(o.normalize);
  std::vector<Converted> all;
  std::vector<double> data;
  int64_t total_outside = 0;
  for (auto& input : inputs)
    for (Converted& c : read_spectra(input)) {
      uint64_t bytes = 0;  // the f64 result and its f32 copy
      if (!checked_mul(uint64_t(all.size() + 1), uint64_t(grid.n), &bytes) || !checked_mul(bytes, 12, &bytes))
        bytes = UINT64_MAX;
      check_allocation(bytes, fmt::format("{}: {} spectra of {} pixels", o.out, all.size() + 1, grid.n));
      const SurveySpectrum& s = c.s;
      ResampledSpectrum r = resample_spectrum(s.loglam, s.flux, s.ivar, grid);
      bool scaled = normalize_spectrum(r, norm);
      data.insert(data.end(), r.flux.begin(), r.flux.end());
      c.outside = r.outside, c.no_data = r.masked;
      total_outside += r.outside;
      if (r.outside + r.masked == grid.n)
        throw CliError(
            fmt::format("{}: no pixel of the spectrum (log10 lambda {:.4f}..{:.4f}) falls on the grid "
                        "{:.4f}..{:.4f}",
                        s.source(), s.loglam.front(), s.loglam.back(), grid.start, grid.stop));
      if (!o.quiet)
        fmt::print(
            "{}: {} pixels{}, log10 lambda {:.4f}..{:.4f} -> {} pixels; {} outside the observed range, {} without "
            "usable data (set to 0){}\n",
            s.source(), s.flux.size(), c.format == "fits" ? "" : fmt::format(" ({} marked bad)", s.bad_pixels),
            s.loglam.front(), s.loglam.back(), grid.n, r.outside, r.masked,
            scaled ? "" : "; constant spectrum: centred, not scaled");
      c.s.loglam.clear(), c.s.flux.clear(), c.s.ivar.clear();
      all.push_back(std::move(c));
    }
  if (o.quiet && total_outside)
    fmt::print("{} pixels in all fell outside the observed ranges (set to 0)\n", total_outside);
  if (!o.out_z.empty() || !o.out_class.empty()) write_labels(all, o);
  write_sidecar(all, inputs, grid, o);
  Tensor out(DType::F64, {int64_t(all.size()), 1, grid.n});
  std::copy(data.begin(), data.end(), out.data<double>());
  return convert_dtype(out, dtype, o.out);
}

// Light-curve tables into [N, epochs, 1 + 2 bands + 4] (runtime/io/light_curves.h), and
// the record of the choices in OUT.json.
Tensor convert_light_curves(const std::vector<std::string>& inputs, const Options& o) {
  LightCurveLayout layout;
  layout.bands.clear();
  std::istringstream list(o.bands);
  for (std::string b; std::getline(list, b, ',');)
    if (!b.empty()) layout.bands.push_back(b);
  if (layout.bands.empty()) throw CliError(fmt::format("--bands '{}': name at least one band", o.bands));
  if (o.epochs <= 0 || o.epochs > 100000) throw CliError(fmt::format("--epochs {}: must be 1..100000", o.epochs));
  layout.epochs = o.epochs;
  LightCurves lc = read_light_curves(inputs, layout);
  std::string j = "{\n  \"written_by\": \"starc convert --light-curves\",\n";
  j += fmt::format("  \"output\": {},\n  \"shape\": [{}, {}, {}],\n", jstr(o.out), lc.lc.dim(0), lc.lc.dim(1),
                   lc.lc.dim(2));
  std::vector<std::string> bands;
  for (auto& b : layout.bands) bands.push_back(jstr(b));
  j += fmt::format("  \"bands\": [{}],\n  \"epochs\": {},\n  \"night_days\": {},\n  \"time_scale_days\": {},\n",
                   fmt::join(bands, ", "), layout.epochs, layout.night_days, layout.time_scale);
  j += "  \"columns\": \"per epoch: (mjd - first epoch's mjd) / time_scale_days, flux per band, flux_err per "
       "band, ra, dec, mwebv, hostgal_photoz; rows past the last epoch 0\",\n";
  j += "  \"alignment\": \"observations within night_days of an epoch's first form the epoch (its time their "
       "mean); one band's several observations in an epoch averaged by inverse variance; a band missing from an "
       "epoch interpolated linearly in time between its neighbouring epochs (error the larger of theirs), held at "
       "the nearest before the band's first or after its last observation; epochs past the limit dropped; "
       "metadata absent 0\",\n";
  j += "  \"order\": \"inputs in the order given; a table's objects in order of first appearance\",\n";
  j += "  \"objects\": [\n";
  for (size_t i = 0; i < lc.objects.size(); ++i) {
    const LightCurveObject& b = lc.objects[i];
    std::vector<std::string> missing;
    for (auto& m : b.missing_meta) missing.push_back(jstr(m));
    j += fmt::format(
        "    {{\"file\": {}, \"id\": {}, \"observations\": {}, \"epochs\": {}, \"dropped_epochs\": {}, "
        "\"interpolated\": {}, \"held\": {}, \"other_bands\": {}, \"missing_metadata\": [{}]}}{}\n",
        jstr(b.file), jstr(b.id), b.observations, b.epochs, b.dropped_epochs, b.interpolated, b.held, b.other_bands,
        fmt::join(missing, ", "), i + 1 < lc.objects.size() ? "," : "");
    if (!o.quiet)
      fmt::print("{}{}: {} observations -> {} epochs ({} values interpolated, {} held{}{})\n", b.file,
                 b.id.empty() ? "" : " object " + b.id, b.observations, b.epochs, b.interpolated, b.held,
                 b.dropped_epochs ? fmt::format("; {} epochs past --epochs dropped", b.dropped_epochs) : "",
                 b.missing_meta.empty() ? "" : fmt::format("; no {}: 0", fmt::join(b.missing_meta, ", ")));
  }
  j += "  ]\n}\n";
  write_file_atomic(sidecar_path(o.out), j);
  fmt::print("wrote the conversion record to {}\n", sidecar_path(o.out));
  return lc.lc;
}

// Image cut-outs with WCS into [N, C, S, S] (runtime/io/image_cutouts.h), and OUT.json.
Tensor convert_cutouts(const std::vector<std::string>& inputs, const Options& o) {
  Cutouts c = read_cutouts(inputs, o.cutout);
  std::string j = "{\n  \"written_by\": \"starc convert --cutout\",\n";
  j += fmt::format("  \"output\": {},\n  \"shape\": [{}, {}, {}, {}],\n", jstr(o.out), c.images.dim(0), c.images.dim(1),
                   c.images.dim(2), c.images.dim(3));
  j += "  \"centre\": \"each cut-out centred on its file's WCS reference pixel (CRPIX1, CRPIX2): the window of "
       "the size whose centre is nearest it\",\n";
  j += "  \"fill\": \"pixels beyond the image and non-finite (BLANK) pixels are 0\",\n";
  j += "  \"bands\": \"a 2-D image is one band, a 3-D cube's NAXIS3 planes are the bands in file order\",\n";
  j += "  \"order\": \"inputs in the order given\",\n  \"cutouts\": [\n";
  for (size_t i = 0; i < c.info.size(); ++i) {
    const CutoutInfo& b = c.info[i];
    j += fmt::format(
        "    {{\"file\": {}, \"reference_pixel\": [{:.6g}, {:.6g}], \"first_pixel\": [{}, {}], "
        "\"scale_arcsec\": {:.6g}, \"outside\": {}, \"blank\": {}}}{}\n",
        jstr(b.file), b.centre_x, b.centre_y, b.first_x, b.first_y, b.scale_arcsec, b.outside, b.blank,
        i + 1 < c.info.size() ? "," : "");
    if (!o.quiet)
      fmt::print("{}: centre pixel ({:.1f}, {:.1f}), {:.4g} arcsec/pixel; {} pixels outside the image, {} blank (0)\n",
                 b.file, b.centre_x, b.centre_y, b.scale_arcsec, b.outside, b.blank);
  }
  j += "  ]\n}\n";
  write_file_atomic(sidecar_path(o.out), j);
  fmt::print("wrote the conversion record to {}\n", sidecar_path(o.out));
  return c.images;
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
  if (int(o.light_curves) + int(!o.grid.empty()) + int(o.cutout != 0) > 1)
    throw CliError(
        "--light-curves, --resample-loglam and --cutout exclude each other (light curves, spectra or images)");
  if (o.light_curves || o.cutout) {
    if (sidecar_path(o.out) == fs::path(o.out).string())
      throw CliError(fmt::format("{}: the output must not end in .json (the conversion record goes there)", o.out));
    Tensor t = o.cutout ? convert_cutouts(inputs, o) : convert_light_curves(inputs, o);
    write_npy(o.out, t);
    fmt::print("wrote {} to {}\n", type_str(t.type()), o.out);
    return 0;
  }
  if (!o.grid.empty()) {
    inputs = expand_folders(inputs);
  } else {
    for (auto& in : inputs) {
      std::error_code ec;
      if (fs::is_directory(in, ec) || (is_glob(in) && !fs::exists(in, ec)))
        throw CliError(
            fmt::format("{}: a folder or pattern of spectra needs --resample-loglam (sdss for the default "
                        "grid)",
                        in));
    }
    if (!o.out_z.empty() || !o.out_class.empty())
      throw CliError("--out-z / --out-class come from spectrum files: give --resample-loglam too");
  }
  if (!o.grid.empty() && sidecar_path(o.out) == fs::path(o.out).string())
    throw CliError(fmt::format("{}: the output must not end in .json (the conversion record goes there)", o.out));
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
                   "of them; with --resample-loglam also folders and patterns ('spec-*.fits') of SDSS spec-*.fits "
                   "and DESI coadd-*.fits files")
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
  c.app->add_option("--out-z", o->out_z,
                    "with --resample-loglam: also write each spectrum's redshift (SDSS SPALL/SPECOBJ Z, DESI "
                    "REDSHIFTS Z) as f32[N,1]");
  c.app->add_option("--out-class", o->out_class,
                    "with --resample-loglam: also write each spectrum's class (CLASS / SPECTYPE) as i64[N]: "
                    "GALAXY 0, QSO 1, STAR 2");
  c.app->add_flag("--light-curves", o->light_curves,
                  "read each input as a light-curve table (CSV or FITS: mjd, band, flux, flux_err, optional "
                  "object_id, ra, dec, mwebv, hostgal_photoz) into [N, epochs, 1 + 2 bands + 4], the supernova "
                  "model's layout");
  c.app->add_option("--bands", o->bands, "with --light-curves: the bands in order (default g,r,i,z)");
  c.app->add_option("--epochs", o->epochs, "with --light-curves: epochs per object (default 40)");
  c.app->add_option("--cutout", o->cutout,
                    "read each input as an image (2-D) or cube of bands (3-D) with a WCS header and cut S x S "
                    "pixels centred on its reference pixel CRPIX: output [N, C, S, S]");
  c.app->add_flag("--quiet,-q", o->quiet, "no line per spectrum (a total of pixels outside the observed ranges only)");
  c.run = [o]() { return cli::run_guarded([&] { return run(*o); }); };
  return c;
}

}  // namespace starc

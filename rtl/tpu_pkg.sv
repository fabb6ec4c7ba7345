// Systole package: the widths and constants shared by every RTL block.
//
// This file is the single source of truth for constants that Python also needs: models/hw.py parses
// the `localparam` lines below, so keep each one on a single line of the form
//   localparam int Name = <decimal>;   // comment
package tpu_pkg;

  // ---- Number format (docs/number-format.md) --------------------------------------------------
  // Interface data are signed fixed point Q(DataW-FracW).(FracW): Q8.8 by default.
  localparam int DataW = 16;  // bits of one activation / weight element
  localparam int FracW = 8;   // fraction bits of DataW
  // Products are exact (2*DataW bits, 2*FracW fraction bits); partial sums wrap modulo 2^AccW, which
  // keeps accumulation associative, so a GEMM tiled over K gives the same bits as an untiled one.
  localparam int AccW  = 32;  // bits of a partial sum / accumulator

  // ---- Systolic array ---------------------------------------------------------------------------
  localparam int ArraySize = 4;  // default P of the P x P array

endpackage

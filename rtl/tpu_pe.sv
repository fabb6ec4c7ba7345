// tpu_pe: one processing element of the weight-stationary systolic array (docs/architecture.md).
//
// Ports
//   clk_i, rst_ni   : clock, asynchronous active-low reset (clears every register but prod_q)
//   x_valid_i       : an input element arrives from the left this edge
//   x_switch_i      : with x_valid_i: first row of a new tile, use (and make active) the shadow weight
//   x_data_i        : the input element (signed, DataW bits)
//   x_valid_o/x_switch_o/x_data_o : the same, registered, for the PE on the right
//   psum_i          : partial sum from the PE above (0 for row 0)
//   psum_o          : registered partial sum psum_i + x * w, wrapping at AccW bits, for the PE below;
//                     registered two edges after the edge that samples the row (see the MAC below)
//   w_shift_i       : shift the column's weight transit chain by one (w_data_i -> transit)
//   w_commit_i      : with w_shift_i: last row of the tile, also write w_data_i into the shadow register
//   w_data_i        : weight arriving from the PE above (the weight port for row 0)
//   w_data_o        : this PE's transit register, for the PE below
//
// Weights pass three registers: transit (the shift chain that carries the next tile down the column),
// shadow (the committed next tile) and active (the weight in use). A switch travels with the first
// input row of a tile and swaps shadow -> active exactly when that row reaches this PE, so the rows
// of the previous tile still in flight further right and down keep their own weights.
//
// The MAC is three stages, so that the multiplier has flip-flops on every input and its output (the
// FPGA critical path otherwise, docs/synth.md): the edge that samples a row registers it (x_q) with its
// weight (active_q, swapped in if the row switches); the next edge registers their exact product
// (prod_q); the one after adds it to psum_i (psum_q). The PE above did the same one edge earlier, so
// psum_i is the partial sum of the same row.
// Reset strategy: control (valid_q, prod_valid_q, switch_q) and the registers the cycle model and the
// tests define as cleared by reset (x, psum, weights) keep the asynchronous reset. prod_q is a pure
// datapath register with no reset, so it can be the multiplier block's own output register; it is
// only read when prod_valid_q says it holds the product of the row sampled two edges earlier.
module tpu_pe #(
  parameter int DataW = tpu_pkg::DataW,
  parameter int AccW  = tpu_pkg::AccW
) (
  input  logic             clk_i,
  input  logic             rst_ni,
  input  logic             x_valid_i,
  input  logic             x_switch_i,
  input  logic [DataW-1:0] x_data_i,
  output logic             x_valid_o,
  output logic             x_switch_o,
  output logic [DataW-1:0] x_data_o,
  input  logic [AccW-1:0]  psum_i,
  output logic [AccW-1:0]  psum_o,
  input  logic             w_shift_i,
  input  logic             w_commit_i,
  input  logic [DataW-1:0] w_data_i,
  output logic [DataW-1:0] w_data_o
);

  localparam int ProdW = 2 * DataW;

  logic             valid_q, prod_valid_q, switch_q;
  logic [DataW-1:0] x_q;
  logic [AccW-1:0]  psum_q, psum_d;
  logic [DataW-1:0] transit_q, shadow_q, active_q;
  logic [DataW-1:0] w_use;
  logic             swap;
  logic [ProdW-1:0] prod_q;

  // The first row of a new tile must already multiply by the new weight, hence the bypass.
  assign swap  = x_valid_i & x_switch_i;
  assign w_use = swap ? shadow_q : active_q;

  // The product is exact; the sum wraps at AccW bits (two's complement), as models.fixed_point does.
  // After a valid row, x_q and active_q are that row and its weight until the next valid row.
  assign psum_d = psum_i + AccW'($signed(prod_q));

`ifdef SYSTOLE_ECP5
  // Synthesis for the ECP5 only (scripts/synth.py): the MULT18X18D's A input register loads with x_q
  // (same data, same enable, so it holds the same value), B is active_q itself and the block's output
  // register is prod_q: each path to or from the DSP block has one wire and no logic. (Registering B in
  // the block would put the weight-select mux in front of it: that path was the critical one.)
  tpu_ecp5_mul #(.AW(DataW), .BW(DataW), .PW(ProdW), .RegInA(1'b1), .RegInB(1'b0), .RegOut(1'b1)) u_mul (
    .clk_i,
    .in_en_i (x_valid_i),
    .a_i     (x_data_i),
    .b_i     (active_q),
    .p_en_i  (valid_q),
    .p_o     (prod_q)
  );
`else
  logic signed [ProdW-1:0] prod;
  assign prod = ProdW'($signed(x_q)) * ProdW'($signed(active_q));

  // No reset (see above): on an FPGA it is the multiplier block's output register.
  always_ff @(posedge clk_i) begin
    if (valid_q) begin
      prod_q <= prod;
    end
  end
`endif

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      valid_q      <= 1'b0;
      prod_valid_q <= 1'b0;
      switch_q     <= 1'b0;
      x_q       <= '0;
      psum_q    <= '0;
      transit_q <= '0;
      shadow_q  <= '0;
      active_q  <= '0;
    end else begin
      valid_q      <= x_valid_i;
      prod_valid_q <= valid_q;
      switch_q     <= swap;
      // Data registers hold while idle: fewer toggles, and idle cycles cannot disturb a result.
      if (x_valid_i) begin
        x_q      <= x_data_i;
        active_q <= w_use;  // the shadow weight on a switch, else unchanged
      end
      if (prod_valid_q) begin
        psum_q <= psum_d;
      end
      if (w_shift_i) begin
        transit_q <= w_data_i;
        if (w_commit_i) begin
          shadow_q <= w_data_i;
        end
      end
    end
  end

  assign x_valid_o  = valid_q;
  assign x_switch_o = switch_q;
  assign x_data_o   = x_q;
  assign psum_o     = psum_q;
  assign w_data_o   = transit_q;

endmodule

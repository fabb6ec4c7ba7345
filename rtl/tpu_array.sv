// tpu_array: the P x P weight-stationary systolic array with double-buffered weights
// (docs/architecture.md has the diagrams, the exact timing and the rules below).
//
// Ports
//   clk_i, rst_ni : clock, asynchronous active-low reset (clears every valid/switch/psum/weight)
//   w_valid_i     : shift one row of the NEXT tile into the weight transit chains
//   w_last_i      : with w_valid_i: last row of the tile (row 0): commit the tile to the shadow registers
//   w_data_i      : that row, unskewed; element j goes to column j. Rows are sent W[P-1] first, W[0] last
//   x_valid_i     : an input row, unskewed; element i enters PE row i
//   x_switch_i    : with x_valid_i: first row of a new tile; each PE swaps shadow -> active as it arrives
//   x_data_i      : the row
//   y_valid_o     : a result row, de-skewed
//   y_data_o      : y[j] = sum_i x[i] * W[i][j], exact products, wrapping AccW-bit sums
//
// Timing: a row sampled at edge e reaches PE[i][j] at edge e+i+j (x_q, active_q), its product is
// registered there at e+i+j+1 and added into PE[i][j]'s partial sum at e+i+j+2; it leaves the bottom of
// column j at edge e+P+1+j and is registered on y_valid_o/y_data_o at edge e+2P
// (models/array_model.py: latency()).
// Column j of the weight port is delayed by j edges, so a tile committed at edge L is in every shadow register by edge L+P-1.
//
// Rules for the user (checked by SVA under SYSTOLE_SVA):
//   (a) tile t+1 is committed (w_last_i) at least P-1 edges after the edge at which tile t's first input
//       row (x_switch_i) is sampled, so no shadow register is overwritten before the switch used it;
//       shifting P consecutive rows from that edge on meets this exactly;
//   (b) tile t+1's first input row is sampled at least one edge after its w_last_i edge.
module tpu_array #(
  parameter int P     = tpu_pkg::ArraySize,
  parameter int DataW = tpu_pkg::DataW,
  parameter int AccW  = tpu_pkg::AccW
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  input  logic                    w_valid_i,
  input  logic                    w_last_i,
  input  logic [P-1:0][DataW-1:0] w_data_i,
  input  logic                    x_valid_i,
  input  logic                    x_switch_i,
  input  logic [P-1:0][DataW-1:0] x_data_i,
  output logic                    y_valid_o,
  output logic [P-1:0][AccW-1:0]  y_data_o
);

  // ---- Parameter checks (elaboration) -----------------------------------------------------------
  // A configuration the RTL cannot implement stops elaboration with a message naming the parameter.
  // Icarus 11 has no elaboration-time $fatal: there an instance of a module that does not exist,
  // named after the broken rule, stops elaboration instead ("Unknown module type: <rule>").
  if (!(P >= 1)) begin : g_bad_p
`ifdef __ICARUS__
    tpu_array__P_must_be_at_least_1 u_param_error ();
`else
    $fatal(1, "tpu_array: P = %0d: the array needs P >= 1", P);
`endif
  end
  if (!(AccW >= 2 * DataW)) begin : g_bad_accw
`ifdef __ICARUS__
    tpu_array__AccW_must_hold_an_exact_product u_param_error ();
`else
    $fatal(1, "tpu_array: AccW = %0d: must be >= 2*DataW = %0d (products are exact)", AccW, 2 * DataW);
`endif
  end

  // Mesh wires. x_*_m[i][j] enters PE[i][j] from the left; psum_m[i][j] and wt_m[i][j] from above.
  // Column P of x_*_m and row P of wt_m leave the array unused, except x_valid_m[P-1][P] (y_valid_o).
  // Unpacked on purpose: Icarus re-evaluates every reader of a packed vector when any slice of it
  // changes, which made a P = 8 array with live data ~80x slower than with one net per wire.
  /* verilator lint_off UNUSEDSIGNAL */
  logic             x_valid_m  [P][P+1];
  logic             x_switch_m [P][P+1];
  logic [DataW-1:0] x_data_m   [P][P+1];
  logic [DataW-1:0] wt_m       [P+1][P];
  /* verilator lint_on UNUSEDSIGNAL */
  logic [AccW-1:0]  psum_m     [P+1][P];
  logic [P-1:0]                 w_shift_c, w_commit_c;

  for (genvar i = 0; i < P; i++) begin : g_row
    // Input staircase: row i enters i edges after row 0.
    logic [DataW+1:0] x_skew_d, x_skew_q;
    assign x_skew_d = {x_valid_i, x_switch_i, x_data_i[i]};
    tpu_delay #(.Width(DataW + 2), .Depth(i)) u_x_skew (
      .clk_i, .rst_ni, .d_i(x_skew_d), .q_o(x_skew_q)
    );
    assign x_valid_m[i][0]  = x_skew_q[DataW+1];
    assign x_switch_m[i][0] = x_skew_q[DataW];
    assign x_data_m[i][0]   = x_skew_q[DataW-1:0];

    for (genvar j = 0; j < P; j++) begin : g_col
      tpu_pe #(.DataW(DataW), .AccW(AccW)) u_pe (
        .clk_i,
        .rst_ni,
        .x_valid_i  (x_valid_m[i][j]),
        .x_switch_i (x_switch_m[i][j]),
        .x_data_i   (x_data_m[i][j]),
        .x_valid_o  (x_valid_m[i][j+1]),
        .x_switch_o (x_switch_m[i][j+1]),
        .x_data_o   (x_data_m[i][j+1]),
        .psum_i     (psum_m[i][j]),
        .psum_o     (psum_m[i+1][j]),
        .w_shift_i  (w_shift_c[j]),
        .w_commit_i (w_commit_c[j]),
        .w_data_i   (wt_m[i][j]),
        .w_data_o   (wt_m[i+1][j])
      );
    end
  end

  for (genvar j = 0; j < P; j++) begin : g_col_io
    // Weight staircase: column j shifts j edges after column 0, the same skew the inputs have, so a
    // tile loaded right behind the switch never overwrites a shadow weight before the switch used it.
    logic [DataW+1:0] w_skew_d, w_skew_q;
    assign w_skew_d = {w_valid_i, w_last_i, w_data_i[j]};
    tpu_delay #(.Width(DataW + 2), .Depth(j)) u_w_skew (
      .clk_i, .rst_ni, .d_i(w_skew_d), .q_o(w_skew_q)
    );
    assign w_shift_c[j]  = w_skew_q[DataW+1];
    assign w_commit_c[j] = w_skew_q[DataW];
    assign wt_m[0][j]    = w_skew_q[DataW-1:0];

    assign psum_m[0][j] = '0;

    // De-skew: column j leaves the bottom j edges after column 0; P-1-j more edges line the row up.
    tpu_delay #(.Width(AccW), .Depth(P - 1 - j)) u_deskew (
      .clk_i, .rst_ni, .d_i(psum_m[P][j]), .q_o(y_data_o[j])
    );
  end

  // PE[P-1][P-1]'s valid marks the row it holds; its partial sum (y_data_o[P-1]) follows two edges later.
  tpu_delay #(.Width(1), .Depth(2)) u_y_valid (
    .clk_i, .rst_ni, .d_i(x_valid_m[P-1][P]), .q_o(y_valid_o)
  );

`ifdef SYSTOLE_SVA
  // Protocol state seen at the ports. The checks are immediate assertions in the clocked block (not
  // `disable iff (!rst_ni)`), which keeps rst_ni a purely asynchronous reset for Verilator.
  //   pending_q : a committed tile waits in the shadow registers
  //   since_q   : edges since the last switch, saturating at P-1
  //   w_rows_q  : rows of the tile being shifted in so far
  logic pending_q;
  int   since_q, since_switch, w_rows_q;

  assign since_switch = (x_valid_i && x_switch_i) ? 0 : since_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      pending_q <= 1'b0;
      since_q   <= P - 1;
      w_rows_q  <= 0;
    end else begin
      // Rule (a): column j commits at edge L+j and PE[i][j] switches at edge s+i+j, so a commit with
      // s <= L < s+P-1 would give some PEs of a column the old tile and others the new one. Shifting
      // rows into the transit chains is harmless; replacing a committed tile that no switch has used
      // yet (LDW a; LDW b; MATMUL SWAP) is legal too.
      RuleA_CommitAfterSwitch: assert (!(w_valid_i && w_last_i) || since_switch >= P - 1)
        else $error("rule (a): tile committed %0d edges after a switch (needs >= %0d)", since_switch, P - 1);
      // Rule (b): a switch needs a tile committed at an earlier edge.
      RuleB_SwitchAfterCommit: assert (!(x_valid_i && x_switch_i) || pending_q)
        else $error("rule (b): x_switch_i without a tile committed at an earlier edge");
      // A tile is exactly P rows.
      TileIsPRows: assert (!w_valid_i || (w_last_i ? (w_rows_q == P - 1) : (w_rows_q < P - 1)))
        else $error("weight tile is not P rows long (row %0d, last %0b)", w_rows_q, w_last_i);

      if (x_valid_i && x_switch_i) pending_q <= 1'b0;
      if (w_valid_i && w_last_i) pending_q <= 1'b1;
      since_q <= (since_switch < P - 1) ? since_switch + 1 : P - 1;
      if (w_valid_i) w_rows_q <= w_last_i ? 0 : w_rows_q + 1;
    end
  end
`endif

endmodule

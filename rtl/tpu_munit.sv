// tpu_munit: the matrix unit. Executes MATMUL: streams UB rows into the array and writes (or
// accumulates) the result rows into ACC.
//
// Ports
//   clk_i, rst_ni  : clock, asynchronous active-low reset
//   start_i        : a MATMUL issues at this edge (only when accept_o)
//   start_ub_i, start_acc_i, start_m_i : UB source, ACC destination, rows (ranges already checked)
//   start_acc_flag_i : accumulate into ACC instead of overwriting
//   start_switch_i : its first row carries the array's switch (SWAP with a newly loaded tile)
//   accept_o       : a MATMUL may issue at this edge: its first read follows the current one's last
//   idle_o         : no row in flight (array drained, every ACC write done)
//   ub_re_o, ub_raddr_o, ub_rdata_i         : UB read port (one cycle latency)
//   x_valid_o, x_switch_o, x_data_o         : the array's input port
//   y_valid_i, y_data_i                     : the array's result port
//   acc_re_o, acc_raddr_o, acc_rdata_i      : ACC read port (accumulate)
//   acc_we_o, acc_waddr_o, acc_wdata_o      : ACC write port
//   row_o          : a row enters the array at this edge (performance counters)
//
// Pipeline of one row, for a MATMUL issued at edge F (row m):
//   F+1+m        UB read                         (issue -> read: the address comes from registers)
//   F+2+m        x register (x_valid_o / x_data_o)
//   F+3+m = e    the array samples the row; result registered on y at e + 2P (its latency)
//   e + 2P       ACC read of the destination word (same edge as the y register)
//   e + 2P + 1   ACC write: y, or y + old word
// Rows of back-to-back MATMULs are one edge apart, so a row can read the ACC word that the previous
// row is writing at that very edge (a K-tiled GEMM with M = 1). The RAM returns the old word then;
// the one-entry forward register below substitutes the word being written.
module tpu_munit #(
  parameter int P     = tpu_pkg::ArraySize,
  parameter int DataW = tpu_pkg::DataW,
  parameter int AccW  = tpu_pkg::AccW,
  parameter int UbAw  = 12,
  parameter int AccAw = 11,
  parameter int LenW  = tpu_pkg::InstrCW
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  input  logic                    start_i,
  input  logic [UbAw-1:0]         start_ub_i,
  input  logic [AccAw-1:0]        start_acc_i,
  input  logic [LenW-1:0]         start_m_i,
  input  logic                    start_acc_flag_i,
  input  logic                    start_switch_i,
  output logic                    accept_o,
  output logic                    idle_o,
  output logic                    ub_re_o,
  output logic [UbAw-1:0]         ub_raddr_o,
  input  logic [P-1:0][DataW-1:0] ub_rdata_i,
  output logic                    x_valid_o,
  output logic                    x_switch_o,
  output logic [P-1:0][DataW-1:0] x_data_o,
  input  logic                    y_valid_i,
  input  logic [P-1:0][AccW-1:0]  y_data_i,
  output logic                    acc_re_o,
  output logic [AccAw-1:0]        acc_raddr_o,
  input  logic [P-1:0][AccW-1:0]  acc_rdata_i,
  output logic                    acc_we_o,
  output logic [AccAw-1:0]        acc_waddr_o,
  output logic [P-1:0][AccW-1:0]  acc_wdata_o,
  output logic                    row_o
);

  // Rows in flight: read from UB but not yet written to ACC (at most 2P + 4).
  localparam int FlightW = $clog2(2 * P + 6) + 1;
  localparam int TagW = 1 + AccAw;  // accumulate flag, ACC address
  localparam int DelayD = 2 * P;  // tpu_array's latency (models/array_model.py: latency)

  // Read stage: the MATMUL streaming now.
  logic [LenW-1:0]  left_q;
  logic [UbAw-1:0]  ub_q;
  logic [AccAw-1:0] acc_q;
  logic             accf_q, switch_q;
  logic             reading;
  assign reading = (left_q != '0);

  // After the read edge, and after the x register.
  logic             rd_valid_q, rd_switch_q, x_valid_q, x_switch_q;
  logic [TagW-1:0]  rd_tag_q, x_tag_q;
  logic [P-1:0][DataW-1:0] x_data_q;

  // Write-back stage.
  logic             wb_valid_q, wb_accf_q;
  logic [AccAw-1:0] wb_addr_q;
  logic             fwd_q;
  logic [P-1:0][AccW-1:0] fwd_data_q;
  logic [FlightW-1:0] flight_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      left_q      <= '0;
      ub_q        <= '0;
      acc_q       <= '0;
      accf_q      <= 1'b0;
      switch_q    <= 1'b0;
      rd_valid_q  <= 1'b0;
      rd_switch_q <= 1'b0;
      rd_tag_q    <= '0;
      x_valid_q   <= 1'b0;
      x_switch_q  <= 1'b0;
      x_tag_q     <= '0;
      x_data_q    <= '0;
      flight_q    <= '0;
    end else begin
      rd_valid_q  <= reading;
      rd_switch_q <= reading && switch_q;
      rd_tag_q    <= {accf_q, acc_q};
      if (reading) begin
        left_q   <= left_q - LenW'(1);
        ub_q     <= ub_q + UbAw'(1);
        acc_q    <= acc_q + AccAw'(1);
        switch_q <= 1'b0;
      end
      // The next MATMUL takes over the read stage at the edge of the current one's last read.
      if (start_i) begin
        left_q   <= start_m_i;
        ub_q     <= start_ub_i;
        acc_q    <= start_acc_i;
        accf_q   <= start_acc_flag_i;
        switch_q <= start_switch_i;
      end
      x_valid_q  <= rd_valid_q;
      x_switch_q <= rd_switch_q;
      x_tag_q    <= rd_tag_q;
      if (rd_valid_q) begin
        x_data_q <= ub_rdata_i;
      end
      flight_q <= flight_q + FlightW'(reading) - FlightW'(acc_we_o);
    end
  end

  assign ub_re_o    = reading;
  assign ub_raddr_o = ub_q;
  assign x_valid_o  = x_valid_q;
  assign x_switch_o = x_switch_q;
  assign x_data_o   = x_data_q;
  assign row_o      = x_valid_q;

  // The destination tag waits for the row in a delay line as long as the array's latency.
  logic [TagW:0] dl_d, dl_q;
  logic          dl_valid, dl_accf;
  logic [AccAw-1:0] dl_addr;
  assign dl_d = {x_valid_q, x_tag_q};
  tpu_delay #(.Width(TagW + 1), .Depth(DelayD)) u_tag_delay (
    .clk_i, .rst_ni, .d_i(dl_d), .q_o(dl_q)
  );
  assign {dl_valid, dl_accf, dl_addr} = dl_q;

  assign acc_re_o    = dl_valid && dl_accf;
  assign acc_raddr_o = dl_addr;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      wb_valid_q <= 1'b0;
      wb_accf_q  <= 1'b0;
      wb_addr_q  <= '0;
      fwd_q      <= 1'b0;
      fwd_data_q <= '0;
    end else begin
      wb_valid_q <= dl_valid;
      wb_accf_q  <= dl_accf;
      wb_addr_q  <= dl_addr;
      fwd_q      <= acc_we_o && acc_re_o && (acc_waddr_o == acc_raddr_o);
      fwd_data_q <= acc_wdata_o;
    end
  end

  logic [P-1:0][AccW-1:0] old_word;
  assign old_word = fwd_q ? fwd_data_q : acc_rdata_i;

  assign acc_we_o    = wb_valid_q;
  assign acc_waddr_o = wb_addr_q;
  for (genvar j = 0; j < P; j++) begin : g_lane
    // Element-wise and wrapping at AccW bits, as models.fixed_point.matmul_acc accumulates.
    assign acc_wdata_o[j] = y_data_i[j] + (wb_accf_q ? old_word[j] : '0);
  end

  assign accept_o = (left_q <= LenW'(1));
  assign idle_o   = !reading && (flight_q == '0);

`ifdef SYSTOLE_SVA
  // Immediate assertions in an asynchronously reset block, as in tpu_array.
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
    end else begin
      YAligned: assert (y_valid_i == wb_valid_q)
        else $error("tpu_munit: array result not aligned with the ACC write-back stage");
      IssueOnlyWhenAccepted: assert (!start_i || accept_o)
        else $error("tpu_munit: MATMUL issued while the read stage is busy");
    end
  end
`else
  // Only the assertion looks at y_valid_i.
  logic unused_y_valid;
  assign unused_y_valid = y_valid_i;
`endif

endmodule

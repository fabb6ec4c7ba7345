// tpu_vunit: the vector unit. Executes VEC (rows through tpu_vpu) and LDB (the VPU bias register).
// Both are serializing (docs/isa.md §4): the control unit starts them only with every unit idle, so
// this unit owns the UB, ACC and the VPU configuration while it runs.
//
// Ports
//   clk_i, rst_ni     : clock, asynchronous active-low reset (clears the bias register)
//   start_i           : a VEC or LDB issues at this edge
//   start_ldb_i       : it is an LDB (start_src_i is the UB address of the bias word)
//   start_src_i, start_dst_i, start_aux_i, start_m_i : VEC operands (ranges already checked)
//   start_path_i      : VEC pathway flags (tpu_vpu path_i bits)
//   start_src_ub_i    : VEC source rows come from UB (sign-extended) instead of ACC
//   act_i, shift_i, slope_i, loss_scale_i, loss_shift_i : the SETV registers (stable while running)
//   bgrad_addr_i      : the SETBG register
//   idle_o            : nothing in flight
//   ub_re_o/ub_raddr_o/ub_rdata_i    : UB read port A (source rows, bias word)
//   aux_re_o/aux_raddr_o/aux_rdata_i : UB read port B (aux rows)
//   acc_re_o/acc_raddr_o/acc_rdata_i : ACC read port (source rows)
//   ub_we_o/ub_waddr_o/ub_wdata_o    : UB write port (result rows)
//   acc_we_o/acc_waddr_o/acc_wdata_o : ACC write port (bias-gradient word)
//
// Timing of VEC row m issued at edge F: reads at F+1+m, VPU input sampled at F+2+m, VPU output
// registered VpuLatency-1 edges later, UB written at the next edge; with BGRAD the sums go to ACC at
// the edge the last row is written.
module tpu_vunit #(
  parameter int P     = tpu_pkg::ArraySize,
  parameter int DataW = tpu_pkg::DataW,
  parameter int FracW = tpu_pkg::FracW,
  parameter int AccW  = tpu_pkg::AccW,
  parameter int UbAw  = 12,
  parameter int AccAw = 11,
  parameter int LenW  = tpu_pkg::InstrCW
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  input  logic                    start_i,
  input  logic                    start_ldb_i,
  input  logic [UbAw-1:0]         start_dst_i,
  input  logic [UbAw-1:0]         start_aux_i,
  input  logic [AccAw-1:0]        start_acc_src_i,
  input  logic [UbAw-1:0]         start_ub_src_i,
  input  logic [LenW-1:0]         start_m_i,
  input  logic [4:0]              start_path_i,
  input  logic                    start_src_ub_i,
  input  logic [1:0]              act_i,
  input  logic [4:0]              shift_i,
  input  logic [DataW-1:0]        slope_i,
  input  logic [DataW-1:0]        loss_scale_i,
  input  logic [4:0]              loss_shift_i,
  input  logic [AccAw-1:0]        bgrad_addr_i,
  output logic                    idle_o,
  output logic                    ub_re_o,
  output logic [UbAw-1:0]         ub_raddr_o,
  input  logic [P-1:0][DataW-1:0] ub_rdata_i,
  output logic                    aux_re_o,
  output logic [UbAw-1:0]         aux_raddr_o,
  input  logic [P-1:0][DataW-1:0] aux_rdata_i,
  output logic                    acc_re_o,
  output logic [AccAw-1:0]        acc_raddr_o,
  input  logic [P-1:0][AccW-1:0]  acc_rdata_i,
  output logic                    ub_we_o,
  output logic [UbAw-1:0]         ub_waddr_o,
  output logic [P-1:0][DataW-1:0] ub_wdata_o,
  output logic                    acc_we_o,
  output logic [AccAw-1:0]        acc_waddr_o,
  output logic [P-1:0][AccW-1:0]  acc_wdata_o
);

  logic [LenW-1:0]  left_q, wr_left_q;  // rows still to read / to write
  logic             ldb_q, src_ub_q, first_q, uses_aux_q;
  logic [4:0]       path_q;
  logic [UbAw-1:0]  ub_src_q, aux_q, dst_q;
  logic [AccAw-1:0] acc_src_q;
  logic             rd_valid_q, rd_first_q, rd_ldb_q;
  logic [P-1:0][DataW-1:0] bias_q;
  logic             reading;
  assign reading = (left_q != '0);

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      left_q     <= '0;
      wr_left_q  <= '0;
      ldb_q      <= 1'b0;
      src_ub_q   <= 1'b0;
      first_q    <= 1'b0;
      uses_aux_q <= 1'b0;
      path_q     <= '0;
      ub_src_q   <= '0;
      aux_q      <= '0;
      dst_q      <= '0;
      acc_src_q  <= '0;
      rd_valid_q <= 1'b0;
      rd_first_q <= 1'b0;
      rd_ldb_q   <= 1'b0;
      bias_q     <= '0;
    end else begin
      rd_valid_q <= reading && !ldb_q;
      rd_first_q <= first_q;
      rd_ldb_q   <= reading && ldb_q;
      if (reading) begin
        left_q    <= left_q - LenW'(1);
        ub_src_q  <= ub_src_q + UbAw'(1);
        acc_src_q <= acc_src_q + AccAw'(1);
        aux_q     <= aux_q + UbAw'(1);
        first_q   <= 1'b0;
      end
      if (ub_we_o) begin
        wr_left_q <= wr_left_q - LenW'(1);
        dst_q     <= dst_q + UbAw'(1);
      end
      if (rd_ldb_q) begin
        bias_q <= ub_rdata_i;
      end
      if (start_i) begin
        ldb_q      <= start_ldb_i;
        left_q     <= start_ldb_i ? LenW'(1) : start_m_i;
        wr_left_q  <= start_ldb_i ? '0 : start_m_i;
        ub_src_q   <= start_ub_src_i;
        acc_src_q  <= start_acc_src_i;
        aux_q      <= start_aux_i;
        dst_q      <= start_dst_i;
        path_q     <= start_path_i;
        src_ub_q   <= start_src_ub_i && !start_ldb_i;
        uses_aux_q <= start_path_i[tpu_pkg::VpuPathLoss] || start_path_i[tpu_pkg::VpuPathDeriv];
        first_q    <= 1'b1;
      end
    end
  end

  // LDB reads its word through port A like a UB-sourced VEC.
  assign ub_re_o     = reading && (ldb_q || src_ub_q);
  assign ub_raddr_o  = ub_src_q;
  assign acc_re_o    = reading && !ldb_q && !src_ub_q;
  assign acc_raddr_o = acc_src_q;
  // The aux address is not range-checked when unused, so it must not reach the RAM then.
  assign aux_re_o    = reading && !ldb_q && uses_aux_q;
  assign aux_raddr_o = uses_aux_q ? aux_q : '0;

  logic [P-1:0][AccW-1:0] in_data;
  for (genvar j = 0; j < P; j++) begin : g_sext
    assign in_data[j] = src_ub_q ? {{(AccW - DataW){ub_rdata_i[j][DataW-1]}}, ub_rdata_i[j]}
                                 : acc_rdata_i[j];
  end

  logic                    out_valid;
  logic [P-1:0][DataW-1:0] out_data;
  logic [P-1:0][AccW-1:0]  bgrad;

  tpu_vpu #(.P(P), .DataW(DataW), .FracW(FracW), .AccW(AccW)) u_vpu (
    .clk_i,
    .rst_ni,
    .in_valid_i   (rd_valid_q),
    .in_first_i   (rd_first_q),
    .in_data_i    (in_data),
    .in_aux_i     (aux_rdata_i),
    .path_i       (path_q),
    .act_i,
    .shift_i,
    .slope_i,
    .loss_scale_i,
    .loss_shift_i,
    .bias_i       (bias_q),
    .out_valid_o  (out_valid),
    .out_data_o   (out_data),
    .bgrad_o      (bgrad)
  );

  assign ub_we_o    = out_valid;
  assign ub_waddr_o = dst_q;
  assign ub_wdata_o = out_data;

  // The sums are complete once the last row has left the pipeline, i.e. with its UB write.
  assign acc_we_o    = out_valid && (wr_left_q == LenW'(1)) && path_q[tpu_pkg::VpuPathBgrad];
  assign acc_waddr_o = bgrad_addr_i;
  assign acc_wdata_o = bgrad;

  assign idle_o = !reading && !rd_ldb_q && (wr_left_q == '0);

endmodule

// tpu_cunit: the copy unit. Executes COPY between UB and WMEM (all four directions), plain or with
// every P x P block transposed. Serializing (docs/isa.md §4): it owns UB and WMEM while it runs.
//
// Ports
//   clk_i, rst_ni  : clock, asynchronous active-low reset
//   start_i        : a COPY issues at this edge
//   start_src_i, start_dst_i, start_len_i : operands (ranges, overlap and len % P already checked)
//   start_t_i      : transpose each block of P words
//   start_src_wm_i, start_dst_wm_i : source / destination is WMEM (else UB)
//   idle_o         : nothing in flight
//   ub_re_o/ub_raddr_o/ub_rdata_i, wm_re_o/wm_raddr_o/wm_rdata_i : read ports (one cycle latency)
//   ub_we_o/ub_waddr_o/ub_wdata_o, wm_we_o/wm_waddr_o/wm_wdata_o : write ports
//
// Plain: word w is read at F+1+w and written at F+2+w (a streaming copy; an in-place copy, the only
// overlap allowed, reads every word before writing it). Transposed: each block is read into a P x P
// staging register (P edges), then its P transposed rows are written (P edges); the next block is
// read after the last write, so an in-place transpose is correct too.
module tpu_cunit #(
  parameter int P     = tpu_pkg::ArraySize,
  parameter int DataW = tpu_pkg::DataW,
  parameter int AddrW = 12,  // the wider of the UB and WMEM address widths
  parameter int UbAw  = 12,
  parameter int WmAw  = 10,
  parameter int LenW  = tpu_pkg::InstrCW
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  input  logic                    start_i,
  input  logic [AddrW-1:0]        start_src_i,
  input  logic [AddrW-1:0]        start_dst_i,
  input  logic [LenW-1:0]         start_len_i,
  input  logic                    start_t_i,
  input  logic                    start_src_wm_i,
  input  logic                    start_dst_wm_i,
  output logic                    idle_o,
  output logic                    ub_re_o,
  output logic [UbAw-1:0]         ub_raddr_o,
  input  logic [P-1:0][DataW-1:0] ub_rdata_i,
  output logic                    wm_re_o,
  output logic [WmAw-1:0]         wm_raddr_o,
  input  logic [P-1:0][DataW-1:0] wm_rdata_i,
  output logic                    ub_we_o,
  output logic [UbAw-1:0]         ub_waddr_o,
  output logic [P-1:0][DataW-1:0] ub_wdata_o,
  output logic                    wm_we_o,
  output logic [WmAw-1:0]         wm_waddr_o,
  output logic [P-1:0][DataW-1:0] wm_wdata_o
);

  localparam int IdxW = (P > 1) ? $clog2(P) : 1;
  localparam int RowW = $clog2(P + 1) + 1;

  logic [LenW-1:0]  rd_left_q;     // reads still to do in the current burst (plain: the whole copy)
  logic [LenW-1:0]  blocks_left_q; // transposed: blocks after the current one
  logic [AddrW-1:0] src_q, dst_q;
  logic             t_q, src_wm_q, dst_wm_q;
  logic             rd_valid_q, rd_last_q;
  logic [IdxW-1:0]  cap_idx_q;
  logic [P-1:0][P-1:0][DataW-1:0] stage_q;  // stage_q[k] = source word k of the block
  logic [RowW-1:0]  wr_row_q;      // transposed: rows still to write from the staging register
  logic             reading, t_writing;
  assign reading   = (rd_left_q != '0);
  assign t_writing = (wr_row_q != '0);

  logic [P-1:0][DataW-1:0] rdata, t_row, wdata;
  logic                    we;
  assign rdata = src_wm_q ? wm_rdata_i : ub_rdata_i;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      rd_left_q     <= '0;
      blocks_left_q <= '0;
      src_q         <= '0;
      dst_q         <= '0;
      t_q           <= 1'b0;
      src_wm_q      <= 1'b0;
      dst_wm_q      <= 1'b0;
      rd_valid_q    <= 1'b0;
      rd_last_q     <= 1'b0;
      cap_idx_q     <= '0;
      stage_q       <= '0;
      wr_row_q      <= '0;
    end else begin
      rd_valid_q <= reading;
      rd_last_q  <= (rd_left_q == LenW'(1));
      if (reading) begin
        rd_left_q <= rd_left_q - LenW'(1);
        src_q     <= src_q + AddrW'(1);
      end
      if (we) begin
        dst_q <= dst_q + AddrW'(1);
      end
      if (t_q && rd_valid_q) begin
        stage_q[cap_idx_q] <= rdata;
        cap_idx_q <= rd_last_q ? '0 : cap_idx_q + IdxW'(1);
        if (rd_last_q) begin
          wr_row_q <= RowW'(P);
        end
      end
      if (t_writing) begin
        wr_row_q <= wr_row_q - RowW'(1);
        // The next block is read only after this one is written (in-place transposes).
        if (wr_row_q == RowW'(1) && blocks_left_q != '0) begin
          blocks_left_q <= blocks_left_q - LenW'(1);
          rd_left_q     <= LenW'(P);
        end
      end
      if (start_i) begin
        t_q           <= start_t_i;
        src_wm_q      <= start_src_wm_i;
        dst_wm_q      <= start_dst_wm_i;
        src_q         <= start_src_i;
        dst_q         <= start_dst_i;
        rd_left_q     <= start_t_i ? LenW'(P) : start_len_i;
        blocks_left_q <= start_t_i ? LenW'(start_len_i / LenW'(P)) - LenW'(1) : '0;
      end
    end
  end

  // Transposed row i (written in order 0..P-1): element j is source word j's element i.
  logic [IdxW-1:0] t_idx;
  assign t_idx = IdxW'(RowW'(P) - wr_row_q);
  for (genvar j = 0; j < P; j++) begin : g_t_row
    assign t_row[j] = stage_q[j][t_idx];
  end

  assign we    = t_q ? t_writing : rd_valid_q;
  assign wdata = t_q ? t_row : rdata;

  assign ub_re_o    = reading && !src_wm_q;
  assign ub_raddr_o = UbAw'(src_q);
  assign wm_re_o    = reading && src_wm_q;
  assign wm_raddr_o = WmAw'(src_q);
  assign ub_we_o    = we && !dst_wm_q;
  assign ub_waddr_o = UbAw'(dst_q);
  assign ub_wdata_o = wdata;
  assign wm_we_o    = we && dst_wm_q;
  assign wm_waddr_o = WmAw'(dst_q);
  assign wm_wdata_o = wdata;

  assign idle_o = !reading && !rd_valid_q && !t_writing && (blocks_left_q == '0);

endmodule

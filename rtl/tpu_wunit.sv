// tpu_wunit: the weight unit. Executes LDW: streams a P x P tile from WMEM into the array's weight
// port (the array's transit chains, committed to the shadow registers with the last row).
//
// Ports
//   clk_i, rst_ni : clock, asynchronous active-low reset
//   start_i       : an LDW issues at this edge (only when accept_o)
//   start_addr_i  : its WMEM address wm (range already checked: wm + P - 1 < WmDepth)
//   start_t_i     : transposed load (S[i][j] = WMEM[wm+j][i])
//   accept_o      : a new LDW may issue at this edge (it reads from the next edge on)
//   swap_ok_o     : a MATMUL with SWAP issuing at this edge meets the array's rule (b): its first row
//                   reaches the array (3 edges after issue, tpu_munit) at least one edge after the
//                   w_last row of every LDW issued before it
//   idle_o        : nothing in flight
//   wm_re_o, wm_raddr_o, wm_rdata_i : WMEM read port (one cycle latency)
//   w_valid_o, w_last_o, w_data_o    : the array's weight port
//
// Timing. Plain LDW issued at edge F reads WMEM rows wm+P-1 down to wm at edges F+1 .. F+P; the RAM
// output drives the array directly, so row r is sampled by the array one edge after its read (F+2 ..
// F+P+1). That is one edge shorter than the input path of tpu_munit (issue F, read F+1, register F+2,
// array F+3), which lets the LDW issued right after a MATMUL with SWAP shift its first row at the very
// edge the switch row enters the array (the array's rule (a) allows it): no bubble between tiles.
// Transposed LDW reads wm .. wm+P-1 into a P x P staging register, then sends its rows from there.
module tpu_wunit #(
  parameter int P     = tpu_pkg::ArraySize,
  parameter int DataW = tpu_pkg::DataW,
  parameter int WmAw  = 10
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  input  logic                    start_i,
  input  logic [WmAw-1:0]         start_addr_i,
  input  logic                    start_t_i,
  output logic                    accept_o,
  output logic                    swap_ok_o,
  output logic                    idle_o,
  output logic                    wm_re_o,
  output logic [WmAw-1:0]         wm_raddr_o,
  input  logic [P-1:0][DataW-1:0] wm_rdata_i,
  output logic                    w_valid_o,
  output logic                    w_last_o,
  output logic [P-1:0][DataW-1:0] w_data_o
);

  localparam int CntW = $clog2(P + 1) + 1;
  localparam int IdxW = (P > 1) ? $clog2(P) : 1;

  logic [CntW-1:0]        rd_left_q;   // WMEM reads still to do (at this edge and later)
  logic [WmAw-1:0]        rd_addr_q;
  logic                   t_q;         // mode of the most recent LDW
  logic                   rd_valid_q, rd_last_q, rd_t_q;  // the read done at the last edge
  logic [IdxW-1:0]        cap_idx_q;   // transposed: staging word the next read data goes to
  logic [P-1:0][P-1:0][DataW-1:0] stage_q;  // transposed: stage_q[k] = WMEM[wm+k]
  logic [CntW-1:0]        emit_left_q; // transposed: rows still to send (this cycle and later)

  logic reading, emitting, capturing;
  assign reading   = (rd_left_q != '0);
  assign emitting  = (emit_left_q != '0);
  assign capturing = rd_valid_q && rd_t_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      rd_left_q   <= '0;
      rd_addr_q   <= '0;
      t_q         <= 1'b0;
      rd_valid_q  <= 1'b0;
      rd_last_q   <= 1'b0;
      rd_t_q      <= 1'b0;
      cap_idx_q   <= '0;
      stage_q     <= '0;
      emit_left_q <= '0;
    end else begin
      rd_valid_q <= reading;
      rd_last_q  <= (rd_left_q == CntW'(1));
      rd_t_q     <= t_q;
      if (reading) begin
        rd_left_q <= rd_left_q - CntW'(1);
        rd_addr_q <= t_q ? rd_addr_q + WmAw'(1) : rd_addr_q - WmAw'(1);
      end
      // A new LDW may take over the read counter at the edge of the previous one's last read.
      if (start_i) begin
        rd_left_q <= CntW'(P);
        rd_addr_q <= start_t_i ? start_addr_i : start_addr_i + WmAw'(P - 1);
        t_q       <= start_t_i;
      end
      if (capturing) begin
        stage_q[cap_idx_q] <= wm_rdata_i;
        cap_idx_q <= rd_last_q ? '0 : cap_idx_q + IdxW'(1);
      end
      if (capturing && rd_last_q) begin
        emit_left_q <= CntW'(P);
      end else if (emitting) begin
        emit_left_q <= emit_left_q - CntW'(1);
      end
    end
  end

  // Transposed row i (sent P-1 first): element j is S[i][j] = WMEM[wm+j][i] = stage_q[j][i].
  logic [P-1:0][DataW-1:0] t_row;
  logic [IdxW-1:0]         t_idx;
  assign t_idx = IdxW'(emit_left_q - CntW'(1));
  for (genvar j = 0; j < P; j++) begin : g_t_row
    assign t_row[j] = stage_q[j][t_idx];
  end

  assign wm_re_o    = reading;
  assign wm_raddr_o = rd_addr_q;

  assign w_valid_o = (rd_valid_q && !rd_t_q) || emitting;
  assign w_last_o  = emitting ? (emit_left_q == CntW'(1)) : rd_last_q;
  assign w_data_o  = emitting ? t_row : wm_rdata_i;

  // A plain LDW hands over at its last read. A transposed one only once its last row is being sent.
  assign accept_o = (!reading && !capturing && emit_left_q <= CntW'(1)) ||
                    (rd_left_q == CntW'(1) && !t_q);
  // Rows sampled by the array at edges <= F+2 are fine for a SWAP issuing at F (see above).
  assign swap_ok_o = t_q ? (!reading && !capturing && emit_left_q <= CntW'(3))
                         : (rd_left_q <= CntW'(2));
  assign idle_o = !reading && !rd_valid_q && !emitting;

endmodule

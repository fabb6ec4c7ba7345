// fv_dma: formal harness of tpu_dma as an AXI4 master (docs/formal.md).
//
// Small parameters keep the proof fast: a 16-bit bus, 16-bit addresses, MaxBurst 4, MaxOutstanding 2,
// LenW 3 (1..7 words per command), word widths 8 (UB), 16 (WMEM) and 32 bits (IMEM, ACC), so both
// "several words per beat" and "several beats per word" are covered.
// Every input is free. Assumed: reset in the first cycle only; the AXI slave obeys AXI4 (the shared
// checker with AssumeSlave), except that in `prove` and `cover` it may put RLAST on any beat (dma.sby
// removes RLastBeat) and may wait forever; the on-chip memory answers read requests in order, at least a
// cycle later. Only `progress` (FV_DMA_PROGRESS) also assumes RLastBeat and fairness: READY, responses
// and the memory's answers within MaxWait cycles.
// Asserted (prove): the master rules (the checker), the beats requested equal the command's length with
// contiguous addresses, a wrong RLAST ends the command with DmaErrProto, the timeout fires after exactly
// timeout_i cycles of waiting on the slave. Asserted (progress): a command always ends: while busy, the
// DMA never goes Bound cycles without progress on its bus or memory ports, and every kind of progress is
// bounded by the command (beats requested <= the command's beats, asserted), so done comes.
module fv_dma
  import tpu_pkg::*;
(
  input logic        clk_i,
  input logic        rst_ni,
  input logic        cmd_valid_i,
  input logic        cmd_dir_i,
  input logic [15:0] cmd_host_addr_i,
  input logic [1:0]  cmd_sel_i,
  input logic [3:0]  cmd_mem_addr_i,
  input logic [2:0]  cmd_len_i,
  input logic        cmd_win_i,     // the window, the timeout and abort are free (the CSRs may change them)
  input logic [63:0] win_base_i,
  input logic [63:0] win_limit_i,
  input logic [31:0] timeout_i,
  input logic        abort_i,
  input logic        wr_ready_i,
  input logic        rd_req_ready_i,
  input logic        rd_rsp_valid_i,
  input logic [31:0] rd_rsp_data_i,
  input logic        m_axi_awready,
  input logic        m_axi_wready,
  input logic [0:0]  m_axi_bid,
  input logic [1:0]  m_axi_bresp,
  input logic        m_axi_bvalid,
  input logic        m_axi_arready,
  input logic [0:0]  m_axi_rid,
  input logic [15:0] m_axi_rdata,
  input logic [1:0]  m_axi_rresp,
  input logic        m_axi_rlast,
  input logic        m_axi_rvalid
);

  // Slave and memory fairness only where a proof needs it (`progress`): every other property holds for a
  // slave that may wait forever, and the timeout needs long waits.
`ifdef FV_DMA_PROGRESS
  localparam int MaxWait = 2;
`else
  localparam int MaxWait = 0;
`endif
  localparam int Bound   = 3;  // cycles without progress allowed while busy

  logic        cmd_ready_o, busy_o, done_o, perf_stall_o;
  logic [7:0]  err_o;
  logic [15:0] perf_bytes_o;
  logic        wr_valid_o, rd_req_valid_o;
  logic [1:0]  wr_sel_o, rd_sel_o;
  logic [3:0]  wr_addr_o, rd_addr_o;
  logic [31:0] wr_data_o;
  logic [0:0]  m_axi_awid, m_axi_arid;
  logic [15:0] m_axi_awaddr, m_axi_araddr;
  logic [7:0]  m_axi_awlen, m_axi_arlen;
  logic [2:0]  m_axi_awsize, m_axi_arsize, m_axi_awprot, m_axi_arprot;
  logic [1:0]  m_axi_awburst, m_axi_arburst;
  logic        m_axi_awlock, m_axi_arlock, m_axi_awvalid, m_axi_arvalid;
  logic [3:0]  m_axi_awcache, m_axi_arcache;
  logic [15:0] m_axi_wdata;
  logic [1:0]  m_axi_wstrb;
  logic        m_axi_wlast, m_axi_wvalid, m_axi_bready, m_axi_rready;

  tpu_dma #(
    .AddrW(16), .BusW(16), .IdW(1), .MaxBurst(4), .MaxOutstanding(2), .MemAddrW(4), .LenW(3),
    .ImemWordW(32), .UbWordW(8), .WmWordW(16), .AccWordW(32), .MemWordW(32),
    .ImemWords(8), .UbWords(16), .WmWords(16), .AccWords(16)
  ) u_dut (.*);

  logic [7:0] aw_n, wb_n, b_n, ar_n, rb_n, wbeat, rbeat;
  tpu_axi_checker #(
    .AddrW(16), .DataW(16), .IdW(1), .MaxBurst(4), .MaxOutstanding(2), .AssumeMaster(1'b0),
    .AssumeSlave(1'b1), .MaxWait(MaxWait)
  ) u_chk (
    .clk_i, .rst_ni,
    .awid(m_axi_awid), .awaddr(m_axi_awaddr), .awlen(m_axi_awlen), .awsize(m_axi_awsize),
    .awburst(m_axi_awburst), .awvalid(m_axi_awvalid), .awready(m_axi_awready),
    .wdata(m_axi_wdata), .wstrb(m_axi_wstrb), .wlast(m_axi_wlast), .wvalid(m_axi_wvalid),
    .wready(m_axi_wready), .bresp(m_axi_bresp), .bvalid(m_axi_bvalid), .bready(m_axi_bready),
    .arid(m_axi_arid), .araddr(m_axi_araddr), .arlen(m_axi_arlen), .arsize(m_axi_arsize),
    .arburst(m_axi_arburst), .arvalid(m_axi_arvalid), .arready(m_axi_arready),
    .rdata(m_axi_rdata), .rresp(m_axi_rresp), .rlast(m_axi_rlast), .rvalid(m_axi_rvalid),
    .rready(m_axi_rready),
    .aw_n_o(aw_n), .wb_n_o(wb_n), .b_n_o(b_n), .ar_n_o(ar_n), .rb_n_o(rb_n), .wbeat_o(wbeat),
    .rbeat_o(rbeat)
  );

  // The codes a transfer can end with after it started on the bus.
  function automatic logic bus_err(input logic [7:0] e);
    bus_err = e == 8'(DmaErrNone) || e == 8'(DmaErrSlv) || e == 8'(DmaErrDec) || e == 8'(DmaErrProto)
              || e == 8'(DmaErrTimeout) || e == 8'(DmaErrAbort);
  endfunction

  logic init_q = 1'b1;
  always_ff @(posedge clk_i) init_q <= 1'b0;
  always_comb begin
    if (init_q) ResetFirst: assume (!rst_ni);
    else ResetNever: assume (rst_ni);
  end

  // ---- The command as given, and what the bus and memory ports did for it ------------------------
  function automatic logic [3:0] wlog2(input logic [1:0] sel);
    case (sel)
      2'd1: wlog2 = 4'd0;     // UB: 8-bit words
      2'd2: wlog2 = 4'd1;     // WMEM: 16-bit words
      default: wlog2 = 4'd2;  // IMEM, ACC: 32-bit words
    endcase
  endfunction

  logic        cmd_hs, ax_hs, ax_valid;
  logic [15:0] ax_addr;
  logic [7:0]  ax_len;
  logic [5:0]  exp_beats_q, req_beats_q, r_beats_q, w_beats_q;
  logic [15:0] next_addr_q;
  logic [2:0]  len_q;
  logic [3:0]  words_q, mem_pend_q;
  logic        dir_q;
  logic [4:0]  stall_q;
  logic [7:0]  mem_age_q, wr_age_q, rq_age_q;
  logic        progress;

  assign cmd_hs   = cmd_valid_i && cmd_ready_o;
  assign ax_valid = m_axi_awvalid || m_axi_arvalid;
  assign ax_hs    = (m_axi_awvalid && m_axi_awready) || (m_axi_arvalid && m_axi_arready);
  assign ax_addr  = m_axi_awvalid ? m_axi_awaddr : m_axi_araddr;
  assign ax_len   = m_axi_awvalid ? m_axi_awlen : m_axi_arlen;
  assign progress = ax_hs || (m_axi_wvalid && m_axi_wready) || (m_axi_rvalid && m_axi_rready)
                    || (m_axi_bvalid && m_axi_bready) || (wr_valid_o && wr_ready_i)
                    || (rd_req_valid_o && rd_req_ready_i) || rd_rsp_valid_i || done_o
                    || u_dut.consume || u_dut.place  // a chunk moved between a bus beat and a word
                    || u_dut.ax_load || u_dut.pop;   // a burst presented, a response word used

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      exp_beats_q <= '0;
      req_beats_q <= '0;
      r_beats_q   <= '0;
      w_beats_q   <= '0;
      next_addr_q <= '0;
      len_q       <= '0;
      words_q     <= '0;
      dir_q       <= 1'b0;
      mem_pend_q  <= '0;
      stall_q     <= '0;
      mem_age_q   <= '0;
      wr_age_q    <= '0;
      rq_age_q    <= '0;
    end else begin
      if (cmd_hs) begin
        exp_beats_q <= 6'(((7'(cmd_len_i) << wlog2(cmd_sel_i)) + 7'd1) >> 1);
        req_beats_q <= '0;
        r_beats_q   <= '0;
        w_beats_q   <= '0;
        next_addr_q <= cmd_host_addr_i;
        len_q       <= cmd_len_i;
        words_q     <= '0;
        dir_q       <= cmd_dir_i;
      end else begin
        if (ax_hs) begin
          req_beats_q <= req_beats_q + 6'(ax_len) + 6'd1;
          next_addr_q <= next_addr_q + ((16'(ax_len) + 16'd1) << 1);
        end
        if ((wr_valid_o && wr_ready_i) || (rd_req_valid_o && rd_req_ready_i)) words_q <= words_q + 4'd1;
        if (m_axi_rvalid && m_axi_rready) r_beats_q <= r_beats_q + 6'd1;
        if (m_axi_wvalid && m_axi_wready) w_beats_q <= w_beats_q + 6'd1;
      end
      mem_pend_q <= mem_pend_q + 4'(rd_req_valid_o && rd_req_ready_i) - 4'(rd_rsp_valid_i);
      stall_q    <= (busy_o && !progress) ? stall_q + 5'd1 : '0;
      mem_age_q  <= (mem_pend_q != '0 && !rd_rsp_valid_i) ? mem_age_q + 8'd1 : '0;
      wr_age_q   <= (wr_valid_o && !wr_ready_i) ? wr_age_q + 8'd1 : '0;
      rq_age_q   <= (rd_req_valid_o && !rd_req_ready_i) ? rq_age_q + 8'd1 : '0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (rst_ni && !init_q) begin
      // The on-chip memory: read data only for a request of an earlier cycle, and it is fair.
      MemRspAfterReq: assume (!rd_rsp_valid_i || mem_pend_q != '0);
      MemFair: assume (MaxWait == 0 || (32'(mem_age_q) < MaxWait && 32'(wr_age_q) < MaxWait
                                        && 32'(rq_age_q) < MaxWait));

      // Bursts cover the command exactly, at contiguous addresses.
      BurstAddr: assert (!ax_valid || ax_addr == next_addr_q);
      BeatsWithinCommand: assert (!ax_valid || 7'(req_beats_q) + 7'(ax_len) + 7'd1 <= 7'(exp_beats_q));
      BeatsOfCommand: assert (!(done_o && err_o == 8'(DmaErrNone)) || req_beats_q == exp_beats_q);
      NoBusOnCommandError: assert (!(done_o && (err_o == 8'(DmaErrLen) || err_o == 8'(DmaErrAlign)
                                                || err_o == 8'(DmaErrRange) || err_o == 8'(DmaErrWindow)))
                                   || req_beats_q == '0);
      WordsOfCommand: assert (!(done_o && err_o == 8'(DmaErrNone)) || words_q == 4'(len_q));
      OneDirection: assert (!(m_axi_awvalid && m_axi_arvalid) && !(m_axi_awvalid && dir_q == 1'b0)
                            && !(m_axi_arvalid && dir_q == 1'b1));
`ifdef FV_DMA_PROGRESS
      // A command always ends (task `progress` of dma.sby).
      Progress: assert (32'(stall_q) < Bound);
`endif
    end
  end

  // Invariants that make the proof inductive: the harness's and the checker's counts equal the DMA's.
  logic [7:0] w_open;
  logic [6:0] r_rem;  // R beats still to come for the accepted read bursts
  assign r_rem = (ar_n - rb_n >= 8'd1 ? 7'(u_chk.arlen_fifo_q[rb_n[0]]) + 7'd1 - 7'(rbeat) : 7'd0)
                 + (ar_n - rb_n == 8'd2 ? 7'(u_chk.arlen_fifo_q[~rb_n[0]]) + 7'd1 : 7'd0);
  logic       wrd, rdd;
  // Bursts presented on the address channel whose data has not ended: W bursts for writes (W may run
  // one burst ahead of AW: 8'hff), R bursts for reads. lf_q / wbeat_q track both directions.
  logic [7:0] b_open, head_len, next_len, dbeat;
  assign w_open   = aw_n - wb_n;
  assign b_open   = rdd ? ar_n - rb_n : w_open;
  assign head_len = rdd ? u_chk.arlen_fifo_q[rb_n[0]] : u_chk.awlen_fifo_q[wb_n[0]];
  assign next_len = rdd ? u_chk.arlen_fifo_q[~rb_n[0]] : u_chk.awlen_fifo_q[~wb_n[0]];
  assign dbeat    = rdd ? rbeat : wbeat;
  assign wrd    = u_dut.wr_dir;
  assign rdd    = u_dut.rd_dir;
  always_ff @(posedge clk_i) begin
    if (rst_ni && !init_q) begin
      InvRspFifo: assert (u_dut.rsp_cnt_q <= 3'd4 && u_dut.inflight_q <= 3'd4 && u_dut.rsp_cnt_q <= u_dut.inflight_q
                          && 4'(u_dut.inflight_q - u_dut.rsp_cnt_q) == mem_pend_q
                          && u_dut.rsp_wp_q == u_dut.rsp_rp_q + 2'(u_dut.rsp_cnt_q));
      InvOutst: assert (u_dut.outst_q <= 2'd2
                        && (!rdd || (8'(u_dut.outst_q) == 8'(u_dut.axv_q) + ar_n - rb_n && aw_n == b_n))
                        && (!wrd || (8'(u_dut.outst_q) == 8'(u_dut.axv_q) + aw_n - b_n && ar_n == rb_n)));
      InvIdle: assert (u_dut.run || (u_dut.outst_q == '0 && !u_dut.axv_q && aw_n == b_n && ar_n == rb_n
                                     && wb_n == b_n && wbeat == '0 && rbeat == '0 && u_dut.lf_cnt_q == '0
                                     && u_dut.wbeat_q == '0 && !u_dut.word_full_q && mem_pend_q == '0));
      InvLf: assert (!(wrd || rdd) || (8'(u_dut.lf_cnt_q) == 8'(u_dut.axv_q) + b_open
                                       && u_dut.lf_wp_q == u_dut.lf_rp_q + 1'(u_dut.lf_cnt_q)));
      InvWBeat: assert (u_dut.wbeat_q == dbeat);
      InvLfHead: assert (!((wrd || rdd) && b_open >= 8'd1 && b_open <= 8'd2)
                         || u_dut.lf_q[u_dut.lf_rp_q] == head_len);
      InvLfNext: assert (!((wrd || rdd) && b_open == 8'd2) || u_dut.lf_q[~u_dut.lf_rp_q] == next_len);
      InvLfPresented: assert (!((wrd || rdd) && u_dut.axv_q && b_open <= 8'd1)
                              || u_dut.lf_q[u_dut.lf_rp_q + 1'(b_open)] == u_dut.ax_len_q);
      // Writes only: a read burst runs past its ARLEN when the slave sends RLAST late.
      InvWBeatInBurst: assert (!(wrd && b_open >= 8'd1 && b_open <= 8'd2) || dbeat <= head_len);
      InvRBeatIdle: assert (ar_n != rb_n || rbeat == '0);  // no read burst open: none under way
      InvWBeatPresented: assert (!(wrd && u_dut.axv_q && w_open == 8'd0) || wbeat <= u_dut.ax_len_q);
      InvWBeatIdle: assert (!((wrd || rdd) && (b_open == 8'hff || (b_open == 8'd0 && !u_dut.axv_q)))
                            || dbeat == 8'd0);
      InvBeatsRange: assert (exp_beats_q <= 6'd14 && req_beats_q <= exp_beats_q
                             && u_dut.ax_left_q <= 11'(exp_beats_q) && u_dut.ax_len_q <= 8'd3);
      InvWAhead: assert (!wrd || w_open <= 8'd2 || (w_open == 8'hff && u_dut.axv_q));
      InvBeats: assert (!u_dut.run || 7'(exp_beats_q) == 7'(req_beats_q) + 7'(u_dut.ax_left_q)
                                                       + (u_dut.axv_q ? 7'(u_dut.ax_len_q) + 7'd1 : 7'd0));
      InvAddr: assert (!u_dut.run || (u_dut.ax_next_q == next_addr_q + (u_dut.axv_q ? (16'(u_dut.ax_len_q) + 16'd1) << 1
                                                                                  : 16'd0)
                                      && (!u_dut.axv_q || u_dut.ax_addr_q == next_addr_q)));
      InvAligned: assert (!u_dut.run || (!u_dut.ax_next_q[0] && !next_addr_q[0]));
      InvErr: assert ((!u_dut.run || bus_err(u_dut.err_q))
                      && (u_dut.run || bus_err(u_dut.err_q) || req_beats_q == '0)
                      && (!u_dut.run || u_dut.stop_q == (u_dut.err_q != 8'(DmaErrNone))));
      InvBCount: assert (!wrd || ((wb_n - b_n) <= 8'd2 && (wb_n - b_n) <= (aw_n - b_n) + 8'd1
                                  && (aw_n - b_n) <= 8'd2));
      InvWValid: assert (!(wrd && u_dut.lf_cnt_q == '0) || !m_axi_wvalid);
      InvReadOnly: assert (!rdd || (wb_n == b_n && wbeat == '0 && u_dut.inflight_q == '0
                                    && u_dut.rsp_cnt_q == '0 && !u_dut.beat_full_q && u_dut.rq_left_q == '0
                                    && u_dut.pk_left_q == '0));
      InvWriteOnly: assert (!wrd || (rbeat == '0 && !u_dut.word_full_q && u_dut.wleft_q == '0));
      InvWordSize: assert (!u_dut.busy_o || u_dut.wbl_q == wlog2(u_dut.sel_q));
      InvLanes: assert (!u_dut.busy_o || ((u_dut.lane_q & 8'(u_dut.csize - 9'd1)) == '0 && u_dut.lane_q < 8'd2
                                          && (u_dut.fill_q & 8'(u_dut.csize - 9'd1)) == '0
                                          && 9'(u_dut.fill_q) < u_dut.wsize
                                          && (u_dut.wlane_q & 8'(u_dut.csize - 9'd1)) == '0
                                          && 9'(u_dut.wlane_q) < u_dut.wsize
                                          && (u_dut.bfill_q & 8'(u_dut.csize - 9'd1)) == '0
                                          && u_dut.bfill_q < 8'd2));
      InvDir: assert (!u_dut.busy_o || u_dut.dir_q == dir_q);
      InvWordsRead: assert (!rdd || words_q == 4'(len_q) - 4'(u_dut.wleft_q) - 4'(u_dut.word_full_q));
      // Chip -> host: every word not yet packed is still to request or in flight.
      InvPackWords: assert (!(wrd && !u_dut.stop_q)
                            || 4'(u_dut.pk_left_q) == 4'(u_dut.rq_left_q) + 4'(u_dut.inflight_q));
      InvWordsWrite: assert (!wrd || words_q == 4'(len_q) - 4'(u_dut.rq_left_q));
    end
  end

  // ---- Errors the slave causes: a wrong RLAST, a timeout (docs/csr.md, "DMA") ----------------------
  // In `prove` and `cover` the slave may put RLAST on any beat (dma.sby removes the RLastBeat assumption)
  // and may wait forever. A wrong RLAST is one the checker's burst bookkeeping disagrees with.
  logic        bad_rlast, bus_hs, bus_wait, fire;
  logic        bad_q, bad_seen_q, fire_q, tmo_seen_q;
  logic [7:0]  bad_err_q, fire_err_q;
  logic [31:0] wait_q;  // consecutive cycles waiting on the slave, as docs/csr.md defines them
  assign bad_rlast = m_axi_rvalid && m_axi_rready && !u_chk.ok_rlast;
  assign bus_hs    = ax_hs || (m_axi_wvalid && m_axi_wready) || (m_axi_rvalid && m_axi_rready)
                     || (m_axi_bvalid && m_axi_bready);
  // A presented AR/AW/W not accepted, or a response owed and not offered: an R beat of an accepted read
  // burst, or the B of a write once every accepted burst's W is complete.
  assign bus_wait  = ax_valid || m_axi_wvalid || (ar_n != rb_n && !m_axi_rvalid)
                     || (aw_n != b_n && aw_n == wb_n && !m_axi_bvalid);
  // The timeout must fire now: the wait of this cycle is the timeout_i-th in a row.
  assign fire      = busy_o && !tmo_seen_q && timeout_i != '0 && bus_wait && !bus_hs
                     && wait_q >= timeout_i - 32'd1;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      bad_q      <= 1'b0;
      bad_seen_q <= 1'b0;
      bad_err_q  <= '0;
      fire_q     <= 1'b0;
      fire_err_q <= '0;
      tmo_seen_q <= 1'b0;
      wait_q     <= '0;
    end else begin
      bad_q      <= bad_rlast;
      bad_err_q  <= err_o != 8'(DmaErrNone) ? err_o
                    : m_axi_rresp == 2'b00 ? 8'(DmaErrProto)
                    : m_axi_rresp == 2'b11 ? 8'(DmaErrDec) : 8'(DmaErrSlv);
      fire_q     <= fire;
      fire_err_q <= err_o != 8'(DmaErrNone) ? err_o : 8'(DmaErrTimeout);
      wait_q     <= (busy_o && bus_wait && !bus_hs) ? wait_q + 32'd1 : '0;
      if (cmd_hs) begin
        bad_seen_q <= 1'b0;
        tmo_seen_q <= 1'b0;
      end else begin
        if (bad_rlast) bad_seen_q <= 1'b1;
        if (fire) tmo_seen_q <= 1'b1;
      end
    end
  end

`ifndef FV_DMA_PROGRESS  // proven by `prove`; left out of `progress`, whose slave obeys RLastBeat
  always_ff @(posedge clk_i) begin
    if (rst_ni && !init_q) begin
      // A wrong RLAST stops the transfer with DmaErrProto (or the beat's own SLVERR/DECERR, or the
      // error that came first), and such a command never ends without an error.
      ProtoStops: assert (!bad_q || (u_dut.stop_q && err_o == bad_err_q));
      ProtoNeverOk: assert (!(done_o && bad_seen_q && err_o == 8'(DmaErrNone)));
      // DMA_TIMEOUT: done with DmaErrTimeout (or the first error) exactly one cycle after the
      // timeout_i-th consecutive cycle of waiting on the slave, never otherwise, and only once.
      TimeoutAt: assert (!fire_q || (done_o && err_o == fire_err_q));
      TimeoutOnlyThen: assert (!(done_o && err_o == 8'(DmaErrTimeout)) || fire_q);
      TimeoutOnce: assert (!(done_o && tmo_seen_q && !fire_q));
      InvBadSeen: assert (!bad_seen_q || u_dut.err_q != 8'(DmaErrNone));
      InvTimeout: assert (u_dut.hung_q == tmo_seen_q && u_dut.tmo_done_q == fire_q
                          && (!u_dut.run || u_dut.hung_q || u_dut.tmo_q == wait_q)
                          && (u_dut.err_q != 8'(DmaErrTimeout) || u_dut.hung_q)
                          && (!u_dut.hung_q || u_dut.err_q != 8'(DmaErrNone))
                          && !(u_dut.busy_o && !u_dut.run && u_dut.hung_q));  // StDone: no timeout
    end
  end
`endif

`ifdef FV_DMA_PROGRESS
  logic [6:0] w_rem;  // W beats still to send for the presented bursts, from the DMA's length FIFO
  assign w_rem = (u_dut.lf_cnt_q >= 2'd1 ? 7'(u_dut.lf_q[u_dut.lf_rp_q]) + 7'd1 - 7'(u_dut.wbeat_q) : 7'd0)
                 + (u_dut.lf_cnt_q == 2'd2 ? 7'(u_dut.lf_q[~u_dut.lf_rp_q]) + 7'd1 : 7'd0);
  // Progress needs more of the datapath's state tied down (used by the `progress` task only).
  always_ff @(posedge clk_i) begin
    if (rst_ni && !init_q) begin
      // Host -> chip: the bytes taken from R beats are the bytes put into words, and the beats still to
      // come on R are those of the accepted bursts not yet finished.
      // (The last beat may be partial: its unused bytes are skipped.)
      InvReadBytes: assert (!(rdd && !u_dut.stop_q)
                            || (u_dut.wleft_q != '0
                                ? ((9'(len_q) - 9'(u_dut.wleft_q)) << u_dut.wbl_q) + 9'(u_dut.fill_q)
                                  == (9'(r_beats_q) << 1) + 9'(u_dut.lane_q)
                                : (9'(len_q) << u_dut.wbl_q) <= (9'(r_beats_q) << 1)
                                  && (9'(r_beats_q) << 1) < (9'(len_q) << u_dut.wbl_q) + 9'd2
                                  && u_dut.lane_q == '0 && u_dut.fill_q == '0));
      InvReadBeats: assert (!rdd || 7'(r_beats_q) + r_rem == 7'(req_beats_q));
      InvReadRem: assert (!(rdd && ar_n - rb_n >= 8'd1) || rbeat <= u_chk.arlen_fifo_q[rb_n[0]]);
      // Burst lengths in the DMA's and the checker's queues are those of legal bursts.
      InvLenRange: assert (u_dut.lf_q[0] <= 8'd3 && u_dut.lf_q[1] <= 8'd3 && u_chk.arlen_fifo_q[0] <= 8'd3
                           && u_chk.arlen_fifo_q[1] <= 8'd3 && u_chk.awlen_fifo_q[0] <= 8'd3
                           && u_chk.awlen_fifo_q[1] <= 8'd3);
      // Chip -> host: the bytes of the W beats sent and the beat being built; the W beats still owed by the presented
      // bursts (the DMA's length FIFO) are the beats not yet sent of the command's presented part.
      InvWriteBytes: assert (!(wrd && !u_dut.stop_q)
                             || (u_dut.pk_left_q != '0
                                 ? ((9'(len_q) - 9'(u_dut.pk_left_q)) << u_dut.wbl_q) + 9'(u_dut.wlane_q)
                                   == ((9'(w_beats_q) + 9'(u_dut.beat_full_q)) << 1) + 9'(u_dut.bfill_q)
                                 : 7'(w_beats_q) + 7'(u_dut.beat_full_q) == 7'(exp_beats_q)
                                   && u_dut.bfill_q == '0 && u_dut.wlane_q == '0));
      InvWriteBeats: assert (!wrd || 7'(w_beats_q) + w_rem == 7'(exp_beats_q) - 7'(u_dut.ax_left_q));
      InvExpBeats: assert (!u_dut.busy_o || ((7'(exp_beats_q) << 1) >= (7'(len_q) << u_dut.wbl_q)
                                             && (7'(exp_beats_q) << 1) < (7'(len_q) << u_dut.wbl_q) + 7'd2));
    end
  end
`endif

  always_ff @(posedge clk_i) begin
    if (rst_ni && !init_q) begin
      CoverWriteDone: cover (done_o && err_o == 8'(DmaErrNone) && dir_q == 1'b1 && len_q == 3'd3);
      CoverReadDone: cover (done_o && err_o == 8'(DmaErrNone) && dir_q == 1'b0 && len_q == 3'd3);
      CoverSplitAt4k: cover (ax_hs && ax_addr[11:0] == 12'h000 && req_beats_q[1:0] != 2'd0 && m_axi_awvalid);
      CoverFullBurst: cover (m_axi_wvalid && m_axi_wready && m_axi_wlast && wbeat == 8'd3);
      CoverTwoOutstanding: cover (ar_n - rb_n == 8'd2);
      CoverSlvErr: cover (done_o && err_o == 8'(DmaErrSlv));
      CoverWindowRefused: cover (done_o && err_o == 8'(DmaErrWindow));
      CoverTimeoutDrain: cover (u_dut.hung_q && m_axi_wvalid && m_axi_wready && m_axi_wlast);
      CoverProto: cover (done_o && err_o == 8'(DmaErrProto));
      CoverTimeout3: cover (fire && timeout_i == 32'd3);
      CoverAbortDrain: cover (done_o && err_o == 8'(DmaErrAbort) && dir_q == 1'b1 && req_beats_q != '0);
    end
  end

endmodule

// fv_csr: formal harness of tpu_csr as an AXI4-Lite slave (docs/formal.md).
//
// Every input is free. Assumed: reset in the first cycle only; the master obeys AXI4-Lite (the
// shared checker with AssumeMaster) and keeps one write and one read in flight (docs/csr.md). Asserted:
// the slave rules (the checker), and the register semantics of docs/csr.md, stated here from the ports
// and an independent copy of the register map.
module fv_csr
  import tpu_pkg::*;
(
  input logic                clk_i,
  input logic                rst_ni,
  input logic [CsrAddrW-1:0] s_axil_awaddr,
  input logic [2:0]          s_axil_awprot,
  input logic                s_axil_awvalid,
  input logic [31:0]         s_axil_wdata,
  input logic [3:0]          s_axil_wstrb,
  input logic                s_axil_wvalid,
  input logic                s_axil_bready,
  input logic [CsrAddrW-1:0] s_axil_araddr,
  input logic [2:0]          s_axil_arprot,
  input logic                s_axil_arvalid,
  input logic                s_axil_rready,
  input logic                busy_i,
  input logic                done_i,
  input logic [7:0]          err_i,
  input logic [31:0]         pc_i,
  input logic                dma_cmd_ready_i,
  input logic                dma_busy_i,
  input logic                dma_done_i,
  input logic [7:0]          dma_err_i,
  input logic                perf_array_busy_i,
  input logic [15:0]         perf_macs_i,
  input logic                perf_wstall_i,
  input logic [15:0]         perf_dma_bytes_i,
  input logic                perf_dma_stall_i
);

  localparam logic [1:0] Okay = 2'b00, SlvErr = 2'b10, DecErr = 2'b11;

  logic        s_axil_awready, s_axil_wready, s_axil_bvalid, s_axil_arready, s_axil_rvalid;
  logic [1:0]  s_axil_bresp, s_axil_rresp;
  logic [31:0] s_axil_rdata;
  logic        start_o, irq_o, dma_cmd_valid_o, dma_cmd_dir_o, abort_o;
  logic [63:0] prog_base_o, dma_cmd_host_addr_o, win_base_o, win_limit_o;
  logic [31:0] prog_len_o, dma_cmd_mem_addr_o, dma_cmd_len_o, dma_timeout_o;
  logic [1:0]  dma_cmd_sel_o;

  tpu_csr #(.P(2)) u_dut (.*);

  logic [3:0] aw_pend, w_pend, ar_pend;
  tpu_axil_checker #(
    .AddrW(CsrAddrW), .DataW(32), .AssumeMaster(1'b1), .AssumeSlave(1'b0), .MaxPending(1), .MaxWait(2)
  ) u_chk (
    .clk_i, .rst_ni,
    .awaddr(s_axil_awaddr), .awprot(s_axil_awprot), .awvalid(s_axil_awvalid), .awready(s_axil_awready),
    .wdata(s_axil_wdata), .wstrb(s_axil_wstrb), .wvalid(s_axil_wvalid), .wready(s_axil_wready),
    .bresp(s_axil_bresp), .bvalid(s_axil_bvalid), .bready(s_axil_bready),
    .araddr(s_axil_araddr), .arprot(s_axil_arprot), .arvalid(s_axil_arvalid), .arready(s_axil_arready),
    .rdata(s_axil_rdata), .rresp(s_axil_rresp), .rvalid(s_axil_rvalid), .rready(s_axil_rready),
    .aw_pend_o(aw_pend), .w_pend_o(w_pend), .ar_pend_o(ar_pend)
  );

  // ---- The register map, written again from docs/csr.md -----------------------------------------
  function automatic logic map_writable(input logic [7:0] off);
    map_writable = off == 8'h00 || (off >= 8'h0C && off <= 8'h30) || (off >= 8'h60 && off <= 8'h70);
  endfunction
  function automatic logic map_mapped(input logic [7:0] off);
    map_mapped = (off <= 8'h34) || (off >= 8'h40 && off <= 8'h58) || (off >= 8'h60 && off <= 8'h70)
                 || (off >= 8'h80 && off <= 8'hAC);
  endfunction

  // ---- Reset in the first cycle only ---------------------------------------------------------------
  logic init_q = 1'b1;
  logic post_q = 1'b1;  // the first cycle after reset
  always_ff @(posedge clk_i) begin
    init_q <= 1'b0;
    post_q <= init_q;
  end
  always_comb begin
    if (init_q) ResetFirst: assume (!rst_ni);
    else ResetNever: assume (rst_ni);
  end

  // ---- The request in flight, as the master sent it, and last cycle's state -----------------------
  logic [7:0]  aw_off_q, ar_off_q;
  logic [31:0] w_data_q;
  logic [3:0]  w_strb_q;
  logic        b_prev_q, r_prev_q, dma_prev_q, exec_q;
  logic        run_q, dma_run_q;      // the spec's run flags: set by an accepted start, cleared by done
  logic        start_exp_q, rej_exp_q, dma_exp_q, dma_rej_exp_q, clear_exp_q;
  logic [IrqW-1:0] irq_prev_q, irq_set_prev_q;
  logic [15:0] rej_prev_q, dma_rej_prev_q;
  logic [31:0] cfg_prev_q [14];
  logic [63:0] cnt_prev_q, lo_read_q;  // counter 4 (DMA_BYTES: it carries into HI fastest)
  logic        lo_seen_q;

  logic [31:0] cfg_now [14];
  assign cfg_now[0] = 32'(u_dut.irq_en_q);
  assign cfg_now[1] = u_dut.prog_lo_q;
  assign cfg_now[2] = u_dut.prog_hi_q;
  assign cfg_now[3] = u_dut.prog_len_q;
  assign cfg_now[4] = u_dut.dma_lo_q;
  assign cfg_now[5] = u_dut.dma_hi_q;
  assign cfg_now[6] = u_dut.dma_mem_q;
  assign cfg_now[7] = u_dut.dma_len_q;
  assign cfg_now[8] = {29'd0, u_dut.dma_sel_q, u_dut.dma_dir_q};
  assign cfg_now[9]  = win_base_o[31:0];
  assign cfg_now[10] = win_base_o[63:32];
  assign cfg_now[11] = win_limit_o[31:0];
  assign cfg_now[12] = win_limit_o[63:32];
  assign cfg_now[13] = dma_timeout_o;

  logic [IrqW-1:0] irq_set_now;
  assign irq_set_now = {1'b0, dma_done_i && dma_err_i != 8'd0, dma_done_i, done_i && err_i != 8'd0, done_i};

  logic [31:0] w_mask, w_bits;
  logic        b_new, r_new, dma_new, ctrl_start, ctrl_dma_start, ctrl_clear, ctrl_abort, exec;
  assign w_mask = {{8{w_strb_q[3]}}, {8{w_strb_q[2]}}, {8{w_strb_q[1]}}, {8{w_strb_q[0]}}};
  assign w_bits = w_data_q & w_mask;
  assign ctrl_start     = aw_off_q == 8'(CsrCtrl) && w_bits[CtrlStart];
  assign ctrl_dma_start = aw_off_q == 8'(CsrCtrl) && w_bits[CtrlDmaStart];
  assign ctrl_clear     = aw_off_q == 8'(CsrCtrl) && w_bits[CtrlCntClear];
  assign ctrl_abort     = aw_off_q == 8'(CsrCtrl) && w_bits[CtrlAbort];
  assign b_new   = s_axil_bvalid && !b_prev_q;  // one write in flight: a rising BVALID is a new answer
  assign r_new   = s_axil_rvalid && !r_prev_q;
  assign dma_new = dma_cmd_valid_o && !dma_prev_q;
  // The cycle in which the held write executes (its effects are visible when its B is presented).
  assign exec    = u_dut.wr_en;

  function automatic logic [15:0] sat_inc(input logic [15:0] v);
    sat_inc = v == 16'hffff ? v : v + 16'd1;
  endfunction

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      b_prev_q      <= 1'b0;
      r_prev_q      <= 1'b0;
      dma_prev_q    <= 1'b0;
      exec_q        <= 1'b0;
      run_q         <= 1'b0;
      dma_run_q     <= 1'b0;
      lo_seen_q     <= 1'b0;
      start_exp_q   <= 1'b0;
      rej_exp_q     <= 1'b0;
      dma_exp_q     <= 1'b0;
      dma_rej_exp_q <= 1'b0;
      clear_exp_q   <= 1'b0;
      irq_set_prev_q <= '0;
    end else begin
      irq_set_prev_q <= irq_set_now;
      b_prev_q   <= s_axil_bvalid && !s_axil_bready;
      r_prev_q   <= s_axil_rvalid && !s_axil_rready;
      dma_prev_q <= dma_cmd_valid_o && !dma_cmd_ready_i;
      exec_q     <= exec;
      if (s_axil_awvalid && s_axil_awready) aw_off_q <= {s_axil_awaddr[7:2], 2'b00};
      if (s_axil_wvalid && s_axil_wready) begin
        w_data_q <= s_axil_wdata;
        w_strb_q <= s_axil_wstrb;
      end
      if (s_axil_arvalid && s_axil_arready) ar_off_q <= {s_axil_araddr[7:2], 2'b00};
      if (start_o) run_q <= 1'b1;
      else if (done_i) run_q <= 1'b0;
      if (exec && ctrl_dma_start && !ctrl_abort && !dma_busy_i && !dma_run_q) dma_run_q <= 1'b1;
      else if (dma_done_i) dma_run_q <= 1'b0;
      start_exp_q   <= exec && ctrl_start && !ctrl_abort && !busy_i && !run_q;
      rej_exp_q     <= exec && ctrl_start && (ctrl_abort || busy_i || run_q);
      dma_exp_q     <= exec && ctrl_dma_start && !ctrl_abort && !dma_busy_i && !dma_run_q;
      dma_rej_exp_q <= exec && ctrl_dma_start && (ctrl_abort || dma_busy_i || dma_run_q);
      clear_exp_q   <= exec && ctrl_clear;
      // A read executes at its AR handshake.
      if (s_axil_arvalid && s_axil_arready && s_axil_araddr[7:2] == 6'(CsrDmaBytesLo / 4)) begin
        lo_read_q <= u_dut.cnt_q[4];
        lo_seen_q <= 1'b1;
      end
      if (exec && ctrl_clear) lo_seen_q <= 1'b0;
    end
    irq_prev_q     <= u_dut.irq_st_q;
    rej_prev_q     <= u_dut.rej_q;
    dma_rej_prev_q <= u_dut.dma_rej_q;
    cnt_prev_q     <= u_dut.cnt_q[4];
    for (int i = 0; i < 14; i++) cfg_prev_q[i] <= cfg_now[i];
  end

  always_ff @(posedge clk_i) begin
    if (rst_ni && !init_q) begin
      // One write and one read in flight (docs/csr.md): a master issues the next request after the answer.
      OneWrite: assume (!(s_axil_awvalid && aw_pend != '0) && !(s_axil_wvalid && w_pend != '0));
      OneRead: assume (!(s_axil_arvalid && ar_pend != '0));
      // The core and the DMA: done only while running, the DMA takes a command only while it is idle.
      CoreDone: assume (!done_i || run_q);
      DmaDone: assume (!dma_done_i || (dma_run_q && !dma_cmd_valid_o));

      // A write executes exactly in the cycle before its response appears.
      ExecIsB: assert (b_new == exec_q);
      // Responses follow the map.
      WriteResp: assert (!s_axil_bvalid || s_axil_bresp == (!map_mapped(aw_off_q) ? DecErr
                                                    : (!map_writable(aw_off_q) ? SlvErr : Okay)));
      ReadResp: assert (!s_axil_rvalid || s_axil_rresp == (map_mapped(ar_off_q) ? Okay : DecErr));
      ReadUnmappedZero: assert (!s_axil_rvalid || map_mapped(ar_off_q) || s_axil_rdata == '0);
      // A write that is refused (RO or unmapped) changes no register and acts on nothing.
      RefusedWriteInert: assert (!b_new || map_writable(aw_off_q)
                                 || (cfg_now == cfg_prev_q && !start_exp_q && !dma_exp_q && !rej_exp_q
                                     && !clear_exp_q));
      // Configuration registers change only by a write.
      CfgOnlyByWrite: assert (b_new || cfg_now == cfg_prev_q);
      // IRQ_STATUS is W1C, and an event in the same cycle wins over the clear; otherwise it only gains.
      IrqW1c: assert (!(b_new && aw_off_q == 8'(CsrIrqStatus))
                      || u_dut.irq_st_q == ((irq_prev_q & ~w_bits[IrqW-1:0]) | irq_set_prev_q));
      IrqSet: assert ((b_new && aw_off_q == 8'(CsrIrqStatus))
                      || u_dut.irq_st_q == (irq_prev_q | irq_set_prev_q
                                            | {rej_exp_q || dma_rej_exp_q, 4'd0}));
      IrqLevel: assert (irq_o == |(u_dut.irq_st_q & u_dut.irq_en_q));
      // START: accepted exactly when a CTRL write with START (and no ABORT) executes while the core is idle
      // and not already started; a rejected one is counted (saturating) unless the same write clears.
      StartRule: assert (start_o == (exec && ctrl_start && !ctrl_abort && !busy_i && !run_q));
      // ABORT: a pulse exactly when a CTRL write with ABORT executes; it refuses the starts of that write.
      AbortRule: assert (abort_o == (exec && ctrl_abort));
      // The window and the timeout are the registers, as the DMA sees them; the timeout resets to 65536.
      ResetValues: assert (!post_q || (win_base_o == '0 && win_limit_o == '0
                                       && dma_timeout_o == 32'(DmaTimeoutReset)));
      WinPorts: assert (win_base_o == {cfg_now[10], cfg_now[9]} && win_limit_o == {cfg_now[12], cfg_now[11]});
      StartRejects: assert (u_dut.rej_q == (clear_exp_q ? 16'd0 : rej_exp_q ? sat_inc(rej_prev_q) : rej_prev_q));
      // DMA_START: the same rule; the accepted command is presented in the next cycle and held until ready.
      DmaStartRule: assert (dma_new == dma_exp_q);
      DmaStartRejects: assert (u_dut.dma_rej_q == (clear_exp_q ? 16'd0
                                                   : dma_rej_exp_q ? sat_inc(dma_rej_prev_q) : dma_rej_prev_q));
      DmaCmdHold: assert (!dma_prev_q || dma_cmd_valid_o);
      // The counter snapshot: LO reads the low half, the next HI the upper half of that same value.
      CounterLo: assert (!(s_axil_rvalid && ar_off_q == 8'(CsrDmaBytesLo)) || s_axil_rdata == lo_read_q[31:0]);
      CounterSnapshot: assert (!(s_axil_rvalid && ar_off_q == 8'(CsrDmaBytesHi) && lo_seen_q)
                               || s_axil_rdata == lo_read_q[63:32]);
    end
  end

  // Invariants that make the proof inductive: the harness's view of the bus equals the DUT's state.
  always_ff @(posedge clk_i) begin
    if (rst_ni && !init_q) begin
      InvRun: assert (u_dut.run_q == run_q && u_dut.dma_run_q == dma_run_q);
      InvDmaRun: assert (!dma_cmd_valid_o || dma_run_q);
      InvAwPend: assert (aw_pend == 4'(u_dut.aw_valid_q || u_dut.b_valid_q));
      InvWPend: assert (w_pend == 4'(u_dut.w_valid_q || u_dut.b_valid_q));
      InvArPend: assert (ar_pend == 4'(u_dut.r_valid_q));
      InvAwOff: assert (!(u_dut.aw_valid_q || u_dut.b_valid_q) || aw_off_q == {u_dut.aw_addr_q, 2'b00});
      InvW: assert (!(u_dut.w_valid_q || u_dut.b_valid_q)
                    || (w_data_q == u_dut.w_data_q && w_strb_q == u_dut.w_strb_q));
      InvBPrev: assert (!b_prev_q || u_dut.b_valid_q);
      InvOneWrite: assert (!(u_dut.b_valid_q && (u_dut.aw_valid_q || u_dut.w_valid_q)));
      InvRPrev: assert (!r_prev_q || u_dut.r_valid_q);
      InvExp: assert (!(start_exp_q || rej_exp_q || dma_exp_q || dma_rej_exp_q || clear_exp_q) || exec_q);
      InvSnap: assert (!lo_seen_q || u_dut.snap_q[4] == lo_read_q[63:32]);
      InvDmaPrev: assert (!dma_prev_q || dma_cmd_valid_o);
    end
  end

  // Reachability (sby cover tasks)
  always_ff @(posedge clk_i) begin
    if (rst_ni && !init_q) begin
      CoverWriteOkay: cover (b_new && s_axil_bresp == Okay && aw_off_q == 8'(CsrProgLen) && w_strb_q == 4'hf);
      CoverWriteSlvErr: cover (b_new && s_axil_bresp == SlvErr);
      CoverWriteDecErr: cover (b_new && s_axil_bresp == DecErr);
      CoverReadDecErr: cover (r_new && s_axil_rresp == DecErr);
      CoverStartAccepted: cover (start_o);
      CoverStartRejected: cover (rej_exp_q && u_dut.rej_q != rej_prev_q);
      CoverDmaStart: cover (dma_new);
      CoverAbortRefusesStart: cover (abort_o && ctrl_start && ctrl_dma_start && !busy_i && !run_q);
      CoverTimeoutWrite: cover (b_new && aw_off_q == 8'(CsrDmaTimeout) && dma_timeout_o == 32'd7);
      CoverIrqEventWins: cover (b_new && aw_off_q == 8'(CsrIrqStatus) && |(irq_prev_q & w_bits[IrqW-1:0]
                                & irq_set_prev_q));
      CoverBackpressure: cover (s_axil_bvalid && b_prev_q && s_axil_rvalid && r_prev_q);
      CoverSnapshot: cover (r_new && ar_off_q == 8'(CsrDmaBytesHi) && lo_seen_q && u_dut.cnt_q[4] != lo_read_q);
    end
  end

endmodule

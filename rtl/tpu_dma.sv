// tpu_dma: AXI4 master DMA between host memory and the on-chip memories (docs/csr.md, "DMA").
//
// Command port (valid/ready; accepted only when idle, cmd_ready_o = !busy_o):
//   cmd_dir_i        DmaDirToChip (host -> on-chip, AXI reads) or DmaDirToHost (on-chip -> host, AXI writes)
//   cmd_host_addr_i  host byte address; must be a multiple of BusW/8
//   cmd_sel_i        on-chip memory: MemSelImem / MemSelUb / MemSelWm / MemSelAcc
//   cmd_mem_addr_i   first on-chip word address
//   cmd_len_i        number of on-chip words (> 0)
//   cmd_win_i        check the host range against the DMA window [win_base_i, win_limit_i) (byte
//                    addresses, limit exclusive): outside -> DmaErrWindow with no bus activity
// Control (levels, sampled every cycle):
//   timeout_i        bus timeout in cycles, 0 = off: a transfer that waits that many consecutive cycles
//                    on the slave (a presented AR/AW/W not accepted, or a response owed and not offered)
//                    ends with DmaErrTimeout (see "hung" below)
//   abort_i          stop the running transfer: no new bursts, the bursts in flight drain as after a bus
//                    error, then done_o with DmaErrAbort (unless an error came first)
// Status: busy_o from acceptance to done; done_o one-cycle pulse at the end of every accepted command
//   (also a rejected one); err_o (DmaErr*) valid with done_o and held until the next command.
//   Command errors (DmaErrLen, DmaErrAlign, DmaErrRange) end the command with no bus activity. A SLVERR
//   or DECERR response stops the transfer cleanly: no new bursts, the bursts in flight complete (read
//   data discarded, write bursts finished with WSTRB = 0 beats), then done_o with the error. An R beat
//   whose RLAST disagrees with the burst's ARLEN (early, late or missing RLAST; or a beat with no burst
//   outstanding) is discarded and stops the transfer the same way with DmaErrProto; the bursts are
//   counted by the slave's RLASTs, so the drain follows the slave. A timeout pulses done_o at once with
//   DmaErrTimeout (or the first error) while the DMA keeps every AXI obligation in the background
//   (presented address held, owed R beats and B responses accepted, presented write bursts finished
//   with WSTRB = 0): busy_o stays high until the bus owes nothing, and no command is accepted before.
// Host layout: words are packed tightly, little endian: on-chip word i of the transfer occupies host
//   bytes [addr + i*WB, addr + (i+1)*WB), WB = (word width of the selected memory) / 8. Word widths
//   must be powers of two of at least 8 bits; the last beat of a transfer may be partial (writes
//   clear the unused strobes, reads ignore the unused bytes).
// Memory side (word width MemWordW; a narrower memory uses the low bits, the rest are zero):
//   wr_valid_o/wr_ready_i/wr_sel_o/wr_addr_o/wr_data_o   one word write per handshake (host -> chip)
//   rd_req_valid_o/rd_req_ready_i/rd_sel_o/rd_addr_o     one word read request per handshake
//   rd_rsp_valid_i/rd_rsp_data_i                         read data, in request order, any latency >= 1;
//                                                        no ready: the DMA only requests what it can hold
// Bus: AXI4 INCR bursts of size BusW, one ID (0), at most MaxBurst beats, never crossing a 4 KiB
//   boundary, at most MaxOutstanding bursts in flight per direction.
// Performance: perf_bytes_o = payload bytes moved on the bus this cycle (an R beat accepted, a W beat
//   sent: its strobe count); perf_stall_o = a cycle in which the transfer waits on the bus (see docs).
module tpu_dma
  import tpu_pkg::*;
#(
  parameter int AddrW          = 32,
  parameter int BusW           = 64,
  parameter int IdW            = 4,
  parameter int MaxBurst       = 16,
  parameter int MaxOutstanding = 4,
  parameter int MemAddrW       = 16,
  parameter int LenW           = 16,
  parameter int ImemWordW      = InstrW,
  parameter int UbWordW        = ArraySize * DataW,
  parameter int WmWordW        = ArraySize * DataW,
  parameter int AccWordW       = ArraySize * AccW,
  parameter int MemWordW       = AccWordW,
  parameter int ImemWords      = ImemDepth,
  parameter int UbWords        = UbDepth,
  parameter int WmWords        = WmDepth,
  parameter int AccWords       = AccDepth
) (
  input  logic                clk_i,
  input  logic                rst_ni,

  input  logic                cmd_valid_i,
  output logic                cmd_ready_o,
  input  logic                cmd_dir_i,
  input  logic [AddrW-1:0]    cmd_host_addr_i,
  input  logic [1:0]          cmd_sel_i,
  input  logic [MemAddrW-1:0] cmd_mem_addr_i,
  input  logic [LenW-1:0]     cmd_len_i,
  input  logic                cmd_win_i,
  input  logic [63:0]         win_base_i,
  input  logic [63:0]         win_limit_i,
  input  logic [31:0]         timeout_i,
  input  logic                abort_i,
  output logic                busy_o,
  output logic                done_o,
  output logic [7:0]          err_o,
  output logic [15:0]         perf_bytes_o,
  output logic                perf_stall_o,

  output logic                wr_valid_o,
  input  logic                wr_ready_i,
  output logic [1:0]          wr_sel_o,
  output logic [MemAddrW-1:0] wr_addr_o,
  output logic [MemWordW-1:0] wr_data_o,
  output logic                rd_req_valid_o,
  input  logic                rd_req_ready_i,
  output logic [1:0]          rd_sel_o,
  output logic [MemAddrW-1:0] rd_addr_o,
  input  logic                rd_rsp_valid_i,
  input  logic [MemWordW-1:0] rd_rsp_data_i,

  output logic [IdW-1:0]      m_axi_awid,
  output logic [AddrW-1:0]    m_axi_awaddr,
  output logic [7:0]          m_axi_awlen,
  output logic [2:0]          m_axi_awsize,
  output logic [1:0]          m_axi_awburst,
  output logic                m_axi_awlock,
  output logic [3:0]          m_axi_awcache,
  output logic [2:0]          m_axi_awprot,
  output logic                m_axi_awvalid,
  input  logic                m_axi_awready,
  output logic [BusW-1:0]     m_axi_wdata,
  output logic [BusW/8-1:0]   m_axi_wstrb,
  output logic                m_axi_wlast,
  output logic                m_axi_wvalid,
  input  logic                m_axi_wready,
  input  logic [IdW-1:0]      m_axi_bid,
  input  logic [1:0]          m_axi_bresp,
  input  logic                m_axi_bvalid,
  output logic                m_axi_bready,
  output logic [IdW-1:0]      m_axi_arid,
  output logic [AddrW-1:0]    m_axi_araddr,
  output logic [7:0]          m_axi_arlen,
  output logic [2:0]          m_axi_arsize,
  output logic [1:0]          m_axi_arburst,
  output logic                m_axi_arlock,
  output logic [3:0]          m_axi_arcache,
  output logic [2:0]          m_axi_arprot,
  output logic                m_axi_arvalid,
  input  logic                m_axi_arready,
  input  logic [IdW-1:0]      m_axi_rid,
  input  logic [BusW-1:0]     m_axi_rdata,
  input  logic [1:0]          m_axi_rresp,
  input  logic                m_axi_rlast,
  input  logic                m_axi_rvalid,
  output logic                m_axi_rready
);

  localparam int BusBytes = BusW / 8;
  localparam int BusLog2  = $clog2(BusBytes);
  localparam int XW       = MemWordW > BusW ? MemWordW : BusW;  // width in which chunks are shifted
  localparam int TotW     = LenW + 8;                           // beats/bytes of one transfer
  localparam int OutW     = $clog2(MaxOutstanding + 1);
  localparam int RspDepth = 4;                                  // read-response FIFO (chip -> host)
  localparam int RspPtrW  = 2;
  localparam int LfPtrW   = $clog2(MaxOutstanding) > 0 ? $clog2(MaxOutstanding) : 1;

  // ---- Parameter checks (elaboration) -----------------------------------------------------------
  // A configuration the RTL cannot implement stops elaboration with a message naming the parameter.
  // Icarus 11 has no elaboration-time $fatal: there an instance of a module that does not exist,
  // named after the broken rule, stops elaboration instead ("Unknown module type: <rule>").
  function automatic bit pow2_at_least(int w, int lo);
    return w >= lo && (w & (w - 1)) == 0;
  endfunction
  localparam bit WordsOk = pow2_at_least(ImemWordW, 8) && pow2_at_least(UbWordW, 8)
                           && pow2_at_least(WmWordW, 8) && pow2_at_least(AccWordW, 8)
                           && ImemWordW <= MemWordW && UbWordW <= MemWordW && WmWordW <= MemWordW
                           && AccWordW <= MemWordW;
  localparam bit DepthsOk = ImemWords <= 2 ** MemAddrW && UbWords <= 2 ** MemAddrW
                            && WmWords <= 2 ** MemAddrW && AccWords <= 2 ** MemAddrW;
  if (!(pow2_at_least(BusW, 8) && BusW <= 1024)) begin : g_bad_busw
`ifdef __ICARUS__
    tpu_dma__BusW_must_be_a_power_of_two_from_8_to_1024 u_param_error ();
`else
    $fatal(1, "tpu_dma: BusW = %0d: must be a power of two from 8 to 1024 (AXI data widths)", BusW);
`endif
  end
  if (!(AddrW >= 12 && AddrW <= 64)) begin : g_bad_addrw
`ifdef __ICARUS__
    tpu_dma__AddrW_must_be_12_to_64 u_param_error ();
`else
    $fatal(1, "tpu_dma: AddrW = %0d: must be 12 .. 64 (4 KiB burst split, 64-bit host base)", AddrW);
`endif
  end
  if (!(MaxBurst >= 1 && MaxBurst <= 256 && MaxOutstanding >= 1)) begin : g_bad_burst
`ifdef __ICARUS__
    tpu_dma__MaxBurst_must_be_1_to_256_and_MaxOutstanding_at_least_1 u_param_error ();
`else
    $fatal(1, "tpu_dma: MaxBurst = %0d, MaxOutstanding = %0d: need MaxBurst 1 .. 256, MaxOutstanding >= 1",
           MaxBurst, MaxOutstanding);
`endif
  end
  if (!WordsOk) begin : g_bad_words
`ifdef __ICARUS__
    tpu_dma__memory_word_widths_must_be_powers_of_two_of_at_least_8_bits u_param_error ();
`else
    $fatal(1, "tpu_dma: words IMEM %0d, UB %0d, WMEM %0d, ACC %0d bits: need powers of two 8 .. MemWordW %0d",
           ImemWordW, UbWordW, WmWordW, AccWordW, MemWordW);
`endif
  end
  if (!DepthsOk) begin : g_bad_depths
`ifdef __ICARUS__
    tpu_dma__memory_depths_must_fit_MemAddrW u_param_error ();
`else
    $fatal(1, "tpu_dma: a memory depth exceeds 2^MemAddrW = %0d words", 2 ** MemAddrW);
`endif
  end

  typedef enum logic [1:0] {StIdle, StRun, StDone} state_e;

  // IDs are constant and responses are in order, so the returned IDs carry no information.
  logic unused_id;
  assign unused_id = ^{m_axi_bid, m_axi_rid};

  function automatic logic [3:0] word_log2(input logic [1:0] sel);
    case (sel)
      2'(MemSelImem): word_log2 = 4'($clog2(ImemWordW / 8));
      2'(MemSelUb):   word_log2 = 4'($clog2(UbWordW / 8));
      2'(MemSelWm):   word_log2 = 4'($clog2(WmWordW / 8));
      default:        word_log2 = 4'($clog2(AccWordW / 8));
    endcase
  endfunction

  function automatic logic [32:0] depth(input logic [1:0] sel);
    case (sel)
      2'(MemSelImem): depth = 33'(ImemWords);
      2'(MemSelUb):   depth = 33'(UbWords);
      2'(MemSelWm):   depth = 33'(WmWords);
      default:        depth = 33'(AccWords);
    endcase
  endfunction

  // ---- State -------------------------------------------------------------------------------------
  state_e              state_q;
  logic                dir_q, stop_q, hung_q, tmo_done_q;
  logic [31:0]         tmo_q;             // consecutive cycles waiting on the slave
  logic [1:0]          sel_q;
  logic [3:0]          wbl_q;             // log2 of the word size in bytes
  logic [7:0]          err_q;
  logic [AddrW-1:0]    ax_next_q;         // address of the next burst to present
  logic [TotW-1:0]     ax_left_q;         // beats not yet presented
  logic                axv_q;             // a burst is presented on AR or AW
  logic [AddrW-1:0]    ax_addr_q;
  logic [7:0]          ax_len_q;
  logic [OutW-1:0]     outst_q;           // bursts presented and not yet completed
  // host -> chip
  logic [7:0]          lane_q, fill_q;    // byte offsets in the R beat / in the word being built
  logic [MemWordW-1:0] word_q;
  logic                word_full_q;
  logic [LenW-1:0]     wleft_q;           // words still to complete
  logic [MemAddrW-1:0] mem_addr_q;        // next word address to write (or to request)
  // chip -> host
  logic [LenW-1:0]     rq_left_q, pk_left_q;
  logic [2:0]          inflight_q;        // requested and not yet popped from the response FIFO
  logic [MemWordW-1:0] rsp_q [RspDepth];
  logic [RspPtrW-1:0]  rsp_wp_q, rsp_rp_q;
  logic [2:0]          rsp_cnt_q;
  logic [7:0]          wlane_q, bfill_q;  // byte offsets in the word being packed / in the W beat
  logic [BusW-1:0]     beat_q;
  logic [BusBytes-1:0] strb_q;
  logic                beat_full_q;
  logic [7:0]          lf_q [MaxOutstanding];  // AWLEN of every presented write burst, for WLAST
  logic [LfPtrW-1:0]   lf_wp_q, lf_rp_q;
  logic [OutW-1:0]     lf_cnt_q;
  logic [7:0]          wbeat_q;
  logic                lf_have;
  assign lf_have = lf_cnt_q != '0;

  logic run, rd_dir, wr_dir;
  assign run    = state_q == StRun;
  assign rd_dir = run && dir_q == 1'(DmaDirToChip);
  assign wr_dir = run && dir_q == 1'(DmaDirToHost);

  // ---- Command check -----------------------------------------------------------------------------
  logic                cmd_hs;
  logic [3:0]          cmd_wbl;
  logic [TotW-1:0]     cmd_bytes, cmd_beats;
  logic [AddrW+TotW:0] cmd_end;
  logic [32:0]         cmd_mem_end;
  logic [7:0]          cmd_err;

  assign cmd_ready_o = state_q == StIdle;
  assign cmd_hs      = cmd_valid_i && cmd_ready_o;
  assign cmd_wbl     = word_log2(cmd_sel_i);
  assign cmd_bytes   = TotW'(cmd_len_i) << cmd_wbl;
  assign cmd_beats   = (cmd_bytes + TotW'(BusBytes - 1)) >> BusLog2;
  assign cmd_end     = (AddrW + TotW + 1)'(cmd_host_addr_i) + (AddrW + TotW + 1)'(cmd_bytes);
  assign cmd_mem_end = 33'(cmd_mem_addr_i) + 33'(cmd_len_i);

  logic cmd_misaligned, cmd_outside;
  logic [64:0] cmd_host65;
  assign cmd_misaligned = cmd_host_addr_i[BusLog2-1:0] != '0;
  assign cmd_host65     = 65'(cmd_host_addr_i);
  assign cmd_outside    = cmd_win_i && (cmd_host65 < 65'(win_base_i)
                                        || cmd_host65 + 65'(cmd_bytes) > 65'(win_limit_i));

  always_comb begin
    cmd_err = 8'(DmaErrNone);
    if (cmd_len_i == '0) cmd_err = 8'(DmaErrLen);
    else if (cmd_misaligned) cmd_err = 8'(DmaErrAlign);
    else if (cmd_mem_end > depth(cmd_sel_i) || cmd_end > ((AddrW + TotW + 1)'(1) << AddrW)) begin
      cmd_err = 8'(DmaErrRange);
    end else if (cmd_outside) cmd_err = 8'(DmaErrWindow);
  end

  // ---- Chunks: min(word, beat) bytes move per step (both powers of two, so they tile evenly) ----
  logic [3:0]          clog2;
  logic [8:0]          csize;
  logic [XW-1:0]       cmask;
  logic [BusBytes-1:0] cstrb;
  logic [8:0]          wsize;

  assign clog2 = wbl_q < 4'(BusLog2) ? wbl_q : 4'(BusLog2);
  assign csize = 9'd1 << clog2;
  assign wsize = 9'd1 << wbl_q;
  assign cmask = ~({XW{1'b1}} << ({5'd0, csize} << 3));
  assign cstrb = ~({BusBytes{1'b1}} << csize);

  // ---- Burst presentation (shared by AR and AW: one direction runs at a time) -------------------
  logic [12:0]     to4k;
  logic [TotW-1:0] burst;
  logic            ax_hs, ax_load, ax_done;

  assign to4k = (13'h1000 - {1'b0, ax_next_q[11:0]}) >> BusLog2;
  // Compared at a width that holds both: to4k does not fit in TotW bits when LenW is small.
  localparam int CmpW = TotW > 13 ? TotW : 13;
  always_comb begin
    burst = ax_left_q;
    if (burst > TotW'(MaxBurst)) burst = TotW'(MaxBurst);
    if (CmpW'(burst) > CmpW'(to4k)) burst = TotW'(to4k);
  end
  assign ax_hs   = axv_q && (dir_q == 1'(DmaDirToHost) ? m_axi_awready : m_axi_arready);
  assign ax_load = run && !stop_q && ax_left_q != '0 && (!axv_q || ax_hs)
                   && outst_q < OutW'(MaxOutstanding);

  // ---- Host -> chip: R beats into words ----------------------------------------------------------
  logic          r_hs, r_err, r_proto, r_drain, can_take, last_in_word, final_chunk, beat_done, consume;
  logic          wr_hs;
  // Chunks are shifted at the wider of bus and word: the bits above the narrower one stay zero.
  /* verilator lint_off UNUSEDSIGNAL */
  logic [XW-1:0] r_chunk, w_chunk;
  /* verilator lint_on UNUSEDSIGNAL */

  assign r_err        = m_axi_rresp != 2'b00;
  // lf_q / wbeat_q track the presented bursts' lengths for reads too: RLAST must match ARLEN.
  assign r_proto      = !lf_have || (m_axi_rlast != (wbeat_q == lf_q[lf_rp_q]));
  assign r_drain      = stop_q || r_err || r_proto || wleft_q == '0;
  assign can_take     = !word_full_q || wr_ready_i;
  assign last_in_word = {1'b0, fill_q} + csize == wsize;
  assign final_chunk  = last_in_word && wleft_q == LenW'(1);
  assign beat_done    = {1'b0, lane_q} + csize == 9'(BusBytes) || final_chunk;
  assign consume      = rd_dir && m_axi_rvalid && !r_drain && can_take;
  assign m_axi_rready = rd_dir && m_axi_rvalid && (r_drain || (consume && beat_done));
  assign r_hs         = m_axi_rvalid && m_axi_rready;
  assign wr_hs        = word_full_q && wr_ready_i;
  assign r_chunk      = ((XW'(m_axi_rdata) >> {lane_q, 3'b000}) & cmask) << {fill_q, 3'b000};

  // ---- Chip -> host: words into W beats ----------------------------------------------------------
  logic          rq_hs, pop, place, pk_last_in_word, pk_final, pk_beat_done, w_hs, b_hs;
  logic [MemWordW-1:0] rsp_head;

  assign rd_req_valid_o  = wr_dir && !stop_q && rq_left_q != '0 && inflight_q < 3'(RspDepth);
  assign rq_hs           = rd_req_valid_o && rd_req_ready_i;
  assign rsp_head        = rsp_q[rsp_rp_q];
  assign w_hs            = m_axi_wvalid && m_axi_wready;
  assign pk_last_in_word = {1'b0, wlane_q} + csize == wsize;
  assign pk_final        = pk_last_in_word && pk_left_q == LenW'(1);
  assign pk_beat_done    = {1'b0, bfill_q} + csize == 9'(BusBytes) || pk_final;
  assign place           = wr_dir && !stop_q && rsp_cnt_q != '0 && pk_left_q != '0
                           && (!beat_full_q || w_hs);
  assign pop             = (place && pk_last_in_word) || (wr_dir && stop_q && rsp_cnt_q != '0);
  assign w_chunk         = ((XW'(rsp_head) >> {wlane_q, 3'b000}) & cmask) << {bfill_q, 3'b000};
  assign b_hs            = m_axi_bvalid && m_axi_bready;

  // After an error the presented write bursts are finished with empty-strobe beats.
  assign m_axi_wvalid  = wr_dir && lf_have && (beat_full_q || stop_q);
  assign m_axi_wdata   = beat_full_q ? beat_q : '0;
  assign m_axi_wstrb   = beat_full_q ? strb_q : '0;
  assign m_axi_wlast   = wbeat_q == lf_q[lf_rp_q];
  assign m_axi_bready  = wr_dir;

  // ---- Timeout: consecutive cycles in which the transfer waits on the slave ------------------------
  logic bus_wait, bus_move, tmo_fire;
  assign bus_wait = (axv_q || m_axi_wvalid || (rd_dir && outst_q != '0 && !m_axi_rvalid)
                     || (wr_dir && outst_q != '0 && !lf_have && !m_axi_bvalid));
  assign bus_move = ax_hs || r_hs || w_hs || b_hs;
  assign tmo_fire = run && !hung_q && timeout_i != '0 && bus_wait && !bus_move
                    && tmo_q >= timeout_i - 32'd1;

  // ---- Completion --------------------------------------------------------------------------------
  logic rd_end, wr_end, ax_cmp, r_last;
  assign r_last = r_hs && m_axi_rlast && lf_have;  // a burst ends (as the slave counts it)
  assign ax_cmp = r_last || (b_hs && outst_q != '0);
  assign rd_end = rd_dir && outst_q == '0 && !word_full_q
                  && (stop_q || (ax_left_q == '0 && wleft_q == '0));
  assign wr_end = wr_dir && outst_q == '0 && inflight_q == '0
                  && (stop_q || (ax_left_q == '0 && pk_left_q == '0 && !beat_full_q));
  assign ax_done = rd_end || wr_end;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q   <= StIdle;
      dir_q     <= 1'b0;
      sel_q     <= '0;
      wbl_q     <= '0;
      err_q     <= '0;
      stop_q    <= 1'b0;
      hung_q    <= 1'b0;
      tmo_done_q <= 1'b0;
      tmo_q     <= '0;
      ax_next_q <= '0;
      ax_left_q <= '0;
      axv_q     <= 1'b0;
      ax_addr_q <= '0;
      ax_len_q  <= '0;
      outst_q   <= '0;
    end else begin
      case (state_q)
        StIdle: begin
          if (cmd_hs) begin
            dir_q     <= cmd_dir_i;
            sel_q     <= cmd_sel_i;
            wbl_q     <= cmd_wbl;
            err_q     <= cmd_err;
            stop_q    <= 1'b0;
            hung_q    <= 1'b0;
            tmo_q     <= '0;
            ax_next_q <= cmd_host_addr_i;
            ax_left_q <= cmd_beats;
            state_q   <= cmd_err == 8'(DmaErrNone) ? StRun : StDone;
          end
        end
        StRun: begin
          // After a timeout the done pulse has been given: the drain ends straight in idle.
          if (ax_done) state_q <= hung_q ? StIdle : StDone;
        end
        StDone: state_q <= StIdle;
        default: state_q <= StIdle;
      endcase
      // The timeout's done pulse comes a cycle later, when err_q holds its code.
      tmo_done_q <= tmo_fire;
      if (run) begin
        // The first error is the one reported; any error (or an abort) stops new bursts.
        if ((r_hs && r_err) || (b_hs && m_axi_bresp != 2'b00)) begin
          stop_q <= 1'b1;
          if (err_q == 8'(DmaErrNone)) begin
            err_q <= ((r_hs && r_err) ? m_axi_rresp : m_axi_bresp) == 2'b11 ? 8'(DmaErrDec)
                                                                               : 8'(DmaErrSlv);
          end
        end else if (r_hs && r_proto) begin
          stop_q <= 1'b1;
          if (err_q == 8'(DmaErrNone)) err_q <= 8'(DmaErrProto);
        end else if (tmo_fire) begin
          stop_q <= 1'b1;
          if (err_q == 8'(DmaErrNone)) err_q <= 8'(DmaErrTimeout);
        end else if (abort_i) begin
          stop_q <= 1'b1;
          if (err_q == 8'(DmaErrNone)) err_q <= 8'(DmaErrAbort);
        end
        if (tmo_fire) hung_q <= 1'b1;
        tmo_q <= (!bus_wait || bus_move) ? '0 : tmo_q + 32'(!hung_q);
        if (ax_load) begin
          axv_q     <= 1'b1;
          ax_addr_q <= ax_next_q;
          ax_len_q  <= 8'(burst - TotW'(1));
          ax_next_q <= ax_next_q + (AddrW'(burst) << BusLog2);
          ax_left_q <= ax_left_q - burst;
        end else if (ax_hs) begin
          axv_q <= 1'b0;
        end
        outst_q <= outst_q + OutW'(ax_load) - OutW'(ax_cmp);
      end
    end
  end

  // Host -> chip datapath.
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      lane_q      <= '0;
      fill_q      <= '0;
      word_q      <= '0;
      word_full_q <= 1'b0;
      wleft_q     <= '0;
      mem_addr_q  <= '0;
    end else if (cmd_hs) begin
      lane_q      <= '0;
      fill_q      <= '0;
      word_full_q <= 1'b0;
      wleft_q     <= cmd_dir_i == 1'(DmaDirToChip) ? cmd_len_i : '0;
      mem_addr_q  <= cmd_mem_addr_i;
    end else begin
      if (consume) begin
        word_q  <= (fill_q == '0 ? '0 : word_q) | r_chunk[MemWordW-1:0];
        fill_q  <= last_in_word ? '0 : fill_q + csize[7:0];
        lane_q  <= beat_done ? '0 : lane_q + csize[7:0];
        wleft_q <= wleft_q - LenW'(last_in_word);
      end
      if (consume && last_in_word) word_full_q <= 1'b1;
      else if (wr_hs) word_full_q <= 1'b0;
      if (wr_hs || rq_hs) mem_addr_q <= mem_addr_q + MemAddrW'(1);
    end
  end

  // Chip -> host datapath.
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      rq_left_q   <= '0;
      pk_left_q   <= '0;
      inflight_q  <= '0;
      rsp_wp_q    <= '0;
      rsp_rp_q    <= '0;
      rsp_cnt_q   <= '0;
      wlane_q     <= '0;
      bfill_q     <= '0;
      beat_q      <= '0;
      strb_q      <= '0;
      beat_full_q <= 1'b0;
      lf_wp_q     <= '0;
      lf_rp_q     <= '0;
      lf_cnt_q    <= '0;
      wbeat_q     <= '0;
      for (int i = 0; i < RspDepth; i++) rsp_q[i] <= '0;
      for (int i = 0; i < MaxOutstanding; i++) lf_q[i] <= '0;
    end else if (cmd_hs) begin
      rq_left_q   <= cmd_dir_i == 1'(DmaDirToHost) ? cmd_len_i : '0;
      pk_left_q   <= cmd_dir_i == 1'(DmaDirToHost) ? cmd_len_i : '0;
      inflight_q  <= '0;
      rsp_wp_q    <= '0;
      rsp_rp_q    <= '0;
      rsp_cnt_q   <= '0;
      wlane_q     <= '0;
      bfill_q     <= '0;
      beat_full_q <= 1'b0;
      lf_wp_q     <= '0;
      lf_rp_q     <= '0;
      lf_cnt_q    <= '0;
      wbeat_q     <= '0;
    end else begin
      if (rq_hs) rq_left_q <= rq_left_q - LenW'(1);
      inflight_q <= inflight_q + 3'(rq_hs) - 3'(pop);
      if (rd_rsp_valid_i) begin
        rsp_q[rsp_wp_q] <= rd_rsp_data_i;
        rsp_wp_q        <= rsp_wp_q + RspPtrW'(1);
      end
      if (pop) rsp_rp_q <= rsp_rp_q + RspPtrW'(1);
      rsp_cnt_q <= rsp_cnt_q + 3'(rd_rsp_valid_i) - 3'(pop);
      if (place) begin
        beat_q    <= (bfill_q == '0 ? '0 : beat_q) | w_chunk[BusW-1:0];
        strb_q    <= (bfill_q == '0 ? '0 : strb_q) | (cstrb << bfill_q);
        bfill_q   <= pk_beat_done ? '0 : bfill_q + csize[7:0];
        wlane_q   <= pk_last_in_word ? '0 : wlane_q + csize[7:0];
        pk_left_q <= pk_left_q - LenW'(pk_last_in_word);
      end
      if (place && pk_beat_done) beat_full_q <= 1'b1;
      else if (w_hs) beat_full_q <= 1'b0;
      if (ax_load) begin
        lf_q[lf_wp_q] <= 8'(burst - TotW'(1));
        lf_wp_q       <= lf_wp_q == LfPtrW'(MaxOutstanding - 1) ? '0 : lf_wp_q + LfPtrW'(1);
      end
      if ((w_hs && m_axi_wlast) || r_last) begin
        lf_rp_q <= lf_rp_q == LfPtrW'(MaxOutstanding - 1) ? '0 : lf_rp_q + LfPtrW'(1);
      end
      lf_cnt_q <= lf_cnt_q + OutW'(ax_load) - OutW'((w_hs && m_axi_wlast) || r_last);
      if (w_hs) wbeat_q <= m_axi_wlast ? '0 : wbeat_q + 8'd1;
      else if (r_hs && lf_have) wbeat_q <= m_axi_rlast ? '0 : wbeat_q + 8'd1;
    end
  end

  // ---- Outputs -----------------------------------------------------------------------------------
  assign busy_o = state_q != StIdle;
  assign done_o = state_q == StDone || tmo_done_q;
  assign err_o  = err_q;

  assign wr_valid_o = word_full_q;
  assign wr_sel_o   = sel_q;
  assign wr_addr_o  = mem_addr_q;
  assign wr_data_o  = word_q;
  assign rd_sel_o   = sel_q;
  assign rd_addr_o  = mem_addr_q;

  assign m_axi_awid    = '0;
  assign m_axi_awaddr  = ax_addr_q;
  assign m_axi_awlen   = ax_len_q;
  assign m_axi_awsize  = 3'(BusLog2);
  assign m_axi_awburst = 2'b01;  // INCR
  assign m_axi_awlock  = 1'b0;
  assign m_axi_awcache = 4'b0011;  // normal, non-cacheable, bufferable
  assign m_axi_awprot  = 3'b000;
  assign m_axi_awvalid = axv_q && dir_q == 1'(DmaDirToHost);
  assign m_axi_arid    = '0;
  assign m_axi_araddr  = ax_addr_q;
  assign m_axi_arlen   = ax_len_q;
  assign m_axi_arsize  = 3'(BusLog2);
  assign m_axi_arburst = 2'b01;
  assign m_axi_arlock  = 1'b0;
  assign m_axi_arcache = 4'b0011;
  assign m_axi_arprot  = 3'b000;
  assign m_axi_arvalid = axv_q && dir_q == 1'(DmaDirToChip);

  // Payload bytes: an accepted R beat carries the chunks consumed from it; a W beat its strobes.
  logic [15:0] wbytes;
  always_comb begin
    wbytes = '0;
    for (int i = 0; i < BusBytes; i++) wbytes = wbytes + 16'(m_axi_wstrb[i]);
  end
  assign perf_bytes_o = (consume && beat_done) ? 16'({1'b0, lane_q} + csize) : (w_hs ? wbytes : '0);

  // Stall: the transfer waits on the bus, not on the on-chip memory port.
  assign perf_stall_o =
      (rd_dir && outst_q != '0 && !m_axi_rvalid && !(word_full_q && !wr_ready_i)) ||
      (wr_dir && ((m_axi_wvalid && !m_axi_wready) ||
                  (m_axi_awvalid && !m_axi_awready && !m_axi_wvalid) ||
                  (pk_left_q == '0 && !beat_full_q && !lf_have && outst_q != '0 && !m_axi_bvalid)));

`ifdef SYSTOLE_SVA
  // Immediate assertions in a clocked block (not `disable iff (!rst_ni)`), which keeps rst_ni a
  // purely asynchronous reset for Verilator.
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      // nothing to check in reset
    end else begin
      // The bus rules (no burst across 4 KiB, ...) are the port checker's (tb/sva/tpu_axi_checker.sv).
      RspFifoBounded: assert (rsp_cnt_q <= 3'(RspDepth) && inflight_q <= 3'(RspDepth))
        else $error("read-response FIFO overflow");
    end
  end
`endif

endmodule

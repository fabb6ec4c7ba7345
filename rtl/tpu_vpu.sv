// Vector processing unit: one lane per array column, a 13-stage pipeline.
//
// A row of P wide values enters per cycle and flows through, in order (docs/vpu.md has the exact
// arithmetic, models/vpu.py is the bit-exact golden model):
//   requant  d = sat(rshift_rne(in, shift))                         always on
//   bias     d = sat(d + bias[j])                                   path_i[VpuPathBias]
//   act      identity / relu / leaky (d < 0: sat(rshift_rne(d * slope, FracW)));  h = d
//                                                                   path_i[VpuPathAct]
//   loss     d = sat(rshift_rne((d - aux) * loss_scale, loss_shift)) path_i[VpuPathLoss]
//   deriv    d = d * act'(g), g = loss ? h : aux                    path_i[VpuPathDeriv]
//   bgrad    sum[j] += d (wraps, restarted by in_first_i)          path_i[VpuPathBgrad]
// Each operation is split so that no stage holds more than one multiplier, one carry chain or one
// variable shift (the FPGA timing of docs/synth.md). Stage K registers at edge e + K - 1 for a row
// sampled at edge e:
//    1 input      register the row, its aux and bias, the configuration
//    2 requant    q = in >>> shift, with the guard and sticky bits of the shifted-out part
//    3 requant    d = sat(q + round-up)
//    4 bias       d = sat(d + bias)
//    5 act        p = d * slope (registered product)
//    6 act        d = select(d, 0, sat(rne(p, FracW)))                     h = d
//    7 loss       diff = d - aux; g = loss ? h : aux
//    8 loss       p = diff * loss_scale
//    9 loss       q = p >>> loss_shift, guard, sticky
//   10 loss       d = sat(q + round-up)
//   11 deriv      p = d * slope
//   12 deriv      d = select(d, 0, sat(rne(p, FracW)))
//   13 bgrad      out = d, sum[j] += d
// A bypassed operation still registers its value in each of its stages, so every pathway has the same
// latency: in_valid_i sampled at edge e gives out_valid_o registered at edge e + VpuLatency - 1.
//
// Ports:
//   clk_i, rst_ni    clock, active-low asynchronous reset
//   in_valid_i       a row is presented this cycle
//   in_first_i       first row of an operation: restarts the bias-gradient sums
//   in_data_i        P wide input values (accumulator row, or sign-extended data row)
//   in_aux_i         P data values aligned with in_data_i: targets Y (loss) or cached H (deriv)
//   path_i           pathway bits (tpu_pkg::VpuPath*)
//   act_i            activation (tpu_pkg::VpuAct*; code 3 is reserved and acts as identity)
//   shift_i          requant right shift, 0..31
//   slope_i          leaky-ReLU slope, a data code with FracW fraction bits
//   loss_scale_i     loss-gradient scale (e.g. 2/B), a data code
//   loss_shift_i     right shift after (d - aux) * loss_scale, 0..31
//   bias_i           P data values added by the bias operation
//   out_valid_o      out_data_o holds a row
//   out_data_o       P data values
//   bgrad_o          running bias-gradient sums of the operation whose rows last left the pipeline
// Configuration, bias and aux are sampled with the row and travel down the pipeline with it, so back to
// back rows may belong to different operations.
//
// Reset strategy (docs/synth.md): valid bits, configuration and every data register that a later
// stage or a port reads without a product qualifier keep the asynchronous reset. The multiplier
// operand and product registers (stages 5, 7's diff, 8, 11) have none, so that an FPGA can build them
// from a DSP block's own registers; each is loaded with every valid row of its stage, so it holds a
// defined product whenever its consumer stage holds a valid row.
module tpu_vpu #(
  parameter int P     = tpu_pkg::ArraySize,
  parameter int DataW = tpu_pkg::DataW,
  parameter int FracW = tpu_pkg::FracW,
  parameter int AccW  = tpu_pkg::AccW
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  input  logic                    in_valid_i,
  input  logic                    in_first_i,
  input  logic [P-1:0][AccW-1:0]  in_data_i,
  input  logic [P-1:0][DataW-1:0] in_aux_i,
  input  logic [4:0]              path_i,
  input  logic [1:0]              act_i,
  input  logic [4:0]              shift_i,
  input  logic [DataW-1:0]        slope_i,
  input  logic [DataW-1:0]        loss_scale_i,
  input  logic [4:0]              loss_shift_i,
  input  logic [P-1:0][DataW-1:0] bias_i,
  output logic                    out_valid_o,
  output logic [P-1:0][DataW-1:0] out_data_o,
  output logic [P-1:0][AccW-1:0]  bgrad_o
);

  localparam int ShiftW = 5;
  localparam int NStage = 13;  // must equal tpu_pkg::VpuLatency (the SVA below checks it)
  localparam int ProdW  = 2 * DataW;      // d * slope
  localparam int LossW  = 2 * DataW + 1;  // (d - aux) * loss_scale, exact
  // The variable shifts work on a value sign-extended to RndW bits: an AccW input or the loss product.
  localparam int RndW   = (AccW > LossW) ? AccW : LossW;
  // Copies of each variable shift amount per lane (see the lanes): NShSlice slices of the result,
  // ShSlice bits each (the last one takes the rest), then the guard and the sticky bit.
  localparam int ShSlice  = 8;
  localparam int NShSlice = RndW / ShSlice;
  localparam int NShCopy  = NShSlice + 2;

  localparam logic [DataW-1:0] DataMax = {1'b0, {(DataW - 1){1'b1}}};
  localparam logic [DataW-1:0] DataMin = {1'b1, {(DataW - 1){1'b0}}};

  localparam logic [1:0] ActRelu  = 2'(tpu_pkg::VpuActRelu);
  localparam logic [1:0] ActLeaky = 2'(tpu_pkg::VpuActLeaky);

  // ---- Arithmetic helpers ----------------------------------------------------------------------
  // rshift_rne(x, s) with q = floor(x / 2^s): q + 1 when the shifted-out part is above half, or
  // exactly half (guard set, sticky clear) and q is odd. s = 0 shifts nothing out, so nothing rounds.

  function automatic logic [RndW-1:0] shr(logic [RndW-1:0] x, logic [ShiftW-1:0] s);
    return $unsigned($signed(x) >>> s);
  endfunction

  // The last bit shifted out (bit s-1; none for s = 0).
  function automatic logic guard(logic [RndW-1:0] x, logic [ShiftW-1:0] s);
    logic [RndW-1:0] half;
    half = {{(RndW - 1){1'b0}}, 1'b1} << s >> 1;
    return |(x & half);
  endfunction

  // Any bit below the guard bit (bits s-2..0).
  function automatic logic sticky(logic [RndW-1:0] x, logic [ShiftW-1:0] s);
    logic [RndW-1:0] below;
    below = ~({RndW{1'b1}} << s) >> 1;
    return |(x & below);
  endfunction

  // sat(q + up) for a q of up to RndW bits: out of range saturates; in range, the only overflow of the
  // DataW-bit increment is DataMax + 1. Written so that the range test runs beside the carry chain.
  function automatic logic [DataW-1:0] sat_inc(logic [RndW-1:0] q, logic up);
    logic above, below;
    above = !q[RndW-1] && (q[RndW-2:DataW-1] != '0);
    below = q[RndW-1] && (q[RndW-2:DataW-1] != '1);
    if (above) begin
      return DataMax;
    end else if (below) begin
      return DataMin;
    end else if (up && q[DataW-1:0] == DataMax) begin
      return DataMax;
    end
    return q[DataW-1:0] + {{(DataW - 1){1'b0}}, up};
  endfunction

  // sat(rshift_rne(p, FracW)) of a d * slope product: a constant shift, so one stage.
  function automatic logic [DataW-1:0] leak_round(logic [ProdW-1:0] p);
    logic [ProdW-1:0] below;
    logic             up;
    below = {{(ProdW - FracW + 1){1'b0}}, {(FracW - 1){1'b1}}};
    up    = p[FracW-1] && ((p & below) != '0 || p[FracW]);
    return sat_inc(RndW'($signed(p[ProdW-1:FracW])), up);
  endfunction

  // sat(a + b) of two data codes.
  function automatic logic [DataW-1:0] sat_add(logic [DataW-1:0] a, logic [DataW-1:0] b);
    logic [DataW:0] s;
    s = {a[DataW-1], a} + {b[DataW-1], b};
    if (s[DataW] != s[DataW-1]) begin
      return s[DataW] ? DataMin : DataMax;
    end
    return s[DataW-1:0];
  endfunction


  // ---- Control pipeline: shared by all lanes -----------------------------------------------------

  typedef struct packed {
    logic              first;
    logic [4:0]        path;
    logic [1:0]        act;
    logic [ShiftW-1:0] shift;
    logic [DataW-1:0]  slope;
    logic [DataW-1:0]  loss_scale;
    logic [ShiftW-1:0] loss_shift;
  } cfg_t;

  // valid_q[k]: stage k holds a row. cfg_q[k]: its configuration. Each stage reads only the fields its
  // operation needs, and synthesis removes the rest (hence the waivers: most fields are unused in most
  // stages).
  logic [NStage:1] valid_q;
  /* verilator lint_off UNUSEDSIGNAL */
  cfg_t cfg_q [1:NStage-2];
  /* verilator lint_on UNUSEDSIGNAL */
  cfg_t cfg_in;
  assign cfg_in = {in_first_i, path_i, act_i, shift_i, slope_i, loss_scale_i, loss_shift_i};  // field order

  // Valid bits and configuration are reset; the configuration is only loaded with a valid row, so a
  // stage holds its last row when idle (no toggling while the pipeline is empty).
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      valid_q <= '0;
      for (int k = 1; k < NStage - 1; k++) begin
        cfg_q[k] <= '0;
      end
    end else begin
      valid_q <= {valid_q[NStage-1:1], in_valid_i};
      if (in_valid_i) begin
        cfg_q[1] <= cfg_in;
      end
      for (int k = 2; k < NStage - 1; k++) begin
        if (valid_q[k-1]) begin
          cfg_q[k] <= cfg_q[k-1];
        end
      end
    end
  end

  // Stage k's logic reads the configuration of stage k - 1, the row it works on: the multiplier
  // operands straight from these registers, every other field through the lanes' own copies (below).
  // (Named copies of the stages read: Icarus cannot select a member of an unpacked array element.)
  /* verilator lint_off UNUSEDSIGNAL */
  cfg_t cfg2, cfg3, cfg4, cfg5, cfg6, cfg7, cfg8, cfg9, cfg10, cfg11;
  /* verilator lint_on UNUSEDSIGNAL */
  assign cfg2  = cfg_q[2];
  assign cfg3  = cfg_q[3];
  assign cfg6  = cfg_q[6];
  assign cfg9  = cfg_q[9];
  assign cfg4  = cfg_q[4];
  assign cfg5  = cfg_q[5];
  assign cfg7  = cfg_q[7];
  assign cfg8  = cfg_q[8];
  assign cfg10 = cfg_q[10];
  assign cfg11 = cfg_q[11];

  assign out_valid_o = valid_q[NStage];

  // ---- Lanes ----------------------------------------------------------------------------------

  for (genvar j = 0; j < P; j++) begin : g_lane
    // sK_d_q: the value after stage K. aux travels with the row until the loss stage; g (the value
    // whose sign selects act' in deriv: h when the loss operation ran, else aux) from there on.
    logic [AccW-1:0]  s1_x_q;
    logic [DataW-1:0] s1_aux_q, s2_aux_q, s3_aux_q, s4_aux_q, s5_aux_q, s6_aux_q;
    logic [DataW-1:0] s1_bias_q, s2_bias_q, s3_bias_q;
    logic [RndW-1:0]  s2_q_q, s9_q_q;
    logic             s2_guard_q, s2_sticky_q, s9_guard_q, s9_sticky_q;
    logic [DataW-1:0] s3_d_q, s4_d_q, s5_d_q, s6_d_q, s7_d_q, s8_d_q, s9_d_q, s10_d_q, s11_d_q, s12_d_q;
    logic [DataW-1:0] s13_d_q;
    logic [DataW-1:0] s7_g_q, s8_g_q, s9_g_q, s10_g_q;
    logic             s11_g_pos_q;
    logic [AccW-1:0]  s13_sum_q;
    // Multiplier operand and products: no reset (see above).
    logic [ProdW-1:0] s5_p_q, s11_p_q;
    logic [DataW:0]   s7_diff_q;
    logic [LossW-1:0] s8_p_q;

    logic [DataW-1:0] s3_d_d, s4_d_d, s6_d_d, s10_d_d, s12_d_d;
    logic [ProdW-1:0] s5_p_d, s11_p_d;
    logic [LossW-1:0] s8_p_d;
    logic [AccW-1:0]  s13_sum_d;

    // The lane's own copies of the control its stages read, loaded with the row one stage ahead: a
    // register shared by the lanes drives every lane's shifter or muxes, and its routing across the
    // lanes was the critical path (docs/synth.md). keep: synthesis must not merge the copies again.
    // Each shift amount has NShCopy copies within the lane too: one per ShSlice-bit slice of the
    // shifted value, one for the guard bit, one for the sticky bit (the fanout of a single copy was
    // the critical path next).
    logic [NShCopy-1:0][ShiftW-1:0] s1_shift_q, s8_lshift_q;
    logic              s3_bias_en_q, s5_act_en_q, s6_loss_en_q, s9_loss_en_q, s11_deriv_en_q;
    logic              s12_bgrad_en_q, s12_first_q;
    logic [1:0]        s5_act_q, s11_act_q;

    (* keep *) always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        s1_shift_q     <= '0;
        s3_bias_en_q   <= 1'b0;
        s5_act_en_q    <= 1'b0;
        s5_act_q       <= '0;
        s6_loss_en_q   <= 1'b0;
        s8_lshift_q    <= '0;
        s9_loss_en_q   <= 1'b0;
        s11_deriv_en_q <= 1'b0;
        s11_act_q      <= '0;
        s12_bgrad_en_q <= 1'b0;
        s12_first_q    <= 1'b0;
      end else begin
        if (in_valid_i) begin
          s1_shift_q <= {NShCopy{shift_i}};
        end
        if (valid_q[2]) begin
          s3_bias_en_q <= cfg2.path[tpu_pkg::VpuPathBias];
        end
        if (valid_q[4]) begin
          s5_act_en_q <= cfg4.path[tpu_pkg::VpuPathAct];
          s5_act_q    <= cfg4.act;
        end
        if (valid_q[5]) begin
          s6_loss_en_q <= cfg5.path[tpu_pkg::VpuPathLoss];
        end
        if (valid_q[7]) begin
          s8_lshift_q <= {NShCopy{cfg7.loss_shift}};
        end
        if (valid_q[8]) begin
          s9_loss_en_q <= cfg8.path[tpu_pkg::VpuPathLoss];
        end
        if (valid_q[10]) begin
          s11_deriv_en_q <= cfg10.path[tpu_pkg::VpuPathDeriv];
          s11_act_q      <= cfg10.act;
        end
        if (valid_q[11]) begin
          s12_bgrad_en_q <= cfg11.path[tpu_pkg::VpuPathBgrad];
          s12_first_q    <= cfg11.first;
        end
      end
    end

    // This lane's slice of the packed ports, named so that waves show one group per lane.
    logic [AccW-1:0]  lane_in_data;
    logic [DataW-1:0] lane_in_aux, lane_bias;
    assign lane_in_data = in_data_i[j];
    assign lane_in_aux  = in_aux_i[j];
    assign lane_bias    = bias_i[j];

    // The variable shifts of stages 2 and 9, slice k of the result from copy k of the shift amount.
    logic [RndW-1:0] s2_q_d, s9_q_d;
    for (genvar k = 0; k < NShSlice; k++) begin : g_shift
      localparam int Lo = k * ShSlice;
      localparam int Hi = (k == NShSlice - 1) ? RndW - 1 : Lo + ShSlice - 1;
      // Only this slice of each full shift is used (synthesis builds just its muxes).
      /* verilator lint_off UNUSEDSIGNAL */
      logic [RndW-1:0] rq_sh, loss_sh;
      /* verilator lint_on UNUSEDSIGNAL */
      assign rq_sh          = shr(RndW'($signed(s1_x_q)), s1_shift_q[k]);
      assign loss_sh        = shr(RndW'($signed(s8_p_q)), s8_lshift_q[k]);
      assign s2_q_d[Hi:Lo] = rq_sh[Hi:Lo];
      assign s9_q_d[Hi:Lo] = loss_sh[Hi:Lo];
    end

    // Requant: stage 2 shifts (above), stage 3 rounds and saturates.
    assign s3_d_d = sat_inc(s2_q_q, s2_guard_q && (s2_sticky_q || s2_q_q[0]));

    // Bias.
    assign s4_d_d = s3_bias_en_q ? sat_add(s3_d_q, s3_bias_q) : s3_d_q;

    // Act: only negative values change; the product is needed only for leaky ones. The result is
    // also h, the post-activation value. (Continuous assignments: Icarus cannot take constant bit
    // selects inside always_comb.)
    logic s5_neg;
    assign s5_neg = s5_d_q[DataW-1];
    assign s6_d_d = !(s5_act_en_q && s5_neg) ? s5_d_q :
                    (s5_act_q == ActRelu)  ? '0 :
                    (s5_act_q == ActLeaky) ? leak_round(s5_p_q) : s5_d_q;

    // Loss: d - aux and the product are exact before the single rounding.
    assign s10_d_d = s9_loss_en_q ? sat_inc(s9_q_q, s9_guard_q && (s9_sticky_q || s9_q_q[0])) : s9_d_q;

    // Deriv: act'(g) = 1 when g > 0.
    assign s12_d_d = !(s11_deriv_en_q && !s11_g_pos_q) ? s11_d_q :
                     (s11_act_q == ActRelu)  ? '0 :
                     (s11_act_q == ActLeaky) ? leak_round(s11_p_q) : s11_d_q;

    // The three products.
    logic [DataW:0] s7_diff_d;
    assign s7_diff_d = {s6_d_q[DataW-1], s6_d_q} - {s6_aux_q[DataW-1], s6_aux_q};
`ifdef SYSTOLE_ECP5
    // Synthesis for the ECP5 only (scripts/synth.py): each multiply is a MULT18X18D whose input registers
    // load the operands at the edge that loads the stage before the product (so they hold what s4_d_q,
    // s7_diff_q, s10_d_q and the configuration of that stage hold); the product register stays in the
    // fabric, beside the rounding logic that reads it.
    tpu_ecp5_mul #(.AW(DataW), .BW(DataW), .PW(ProdW), .RegOut(1'b0)) u_mul_act (
      .clk_i, .in_en_i(valid_q[3]), .a_i(s4_d_d), .b_i(cfg3.slope), .p_en_i(1'b0), .p_o(s5_p_d));
    tpu_ecp5_mul #(.AW(DataW + 1), .BW(DataW), .PW(LossW), .RegOut(1'b0)) u_mul_loss (
      .clk_i, .in_en_i(valid_q[6]), .a_i(s7_diff_d), .b_i(cfg6.loss_scale), .p_en_i(1'b0), .p_o(s8_p_d));
    tpu_ecp5_mul #(.AW(DataW), .BW(DataW), .PW(ProdW), .RegOut(1'b0)) u_mul_deriv (
      .clk_i, .in_en_i(valid_q[9]), .a_i(s10_d_d), .b_i(cfg9.slope), .p_en_i(1'b0), .p_o(s11_p_d));
`else
    assign s5_p_d  = ProdW'($signed(s4_d_q)) * ProdW'($signed(cfg4.slope));
    assign s8_p_d  = LossW'($signed(s7_diff_q)) * LossW'($signed(cfg7.loss_scale));
    assign s11_p_d = ProdW'($signed(s10_d_q)) * ProdW'($signed(cfg10.slope));
`endif

    // Bgrad: the sum of the operation; the first row restarts it. A disabled stage adds nothing, so an
    // operation without bgrad leaves zero sums.
    logic [AccW-1:0] s13_addend;
    assign s13_addend = s12_bgrad_en_q ? {{(AccW - DataW){s12_d_q[DataW-1]}}, s12_d_q} : '0;
    assign s13_sum_d  = (s12_first_q ? '0 : s13_sum_q) + s13_addend;

    always_ff @(posedge clk_i) begin
      if (valid_q[4]) begin
        s5_p_q <= s5_p_d;
      end
      if (valid_q[6]) begin
        s7_diff_q <= s7_diff_d;
      end
      if (valid_q[7]) begin
        s8_p_q <= s8_p_d;
      end
      if (valid_q[10]) begin
        s11_p_q <= s11_p_d;
      end
    end

    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        s1_x_q      <= '0;
        s1_aux_q    <= '0;
        s1_bias_q   <= '0;
        s2_q_q      <= '0;
        s2_guard_q  <= 1'b0;
        s2_sticky_q <= 1'b0;
        s2_aux_q    <= '0;
        s2_bias_q   <= '0;
        s3_d_q      <= '0;
        s3_aux_q    <= '0;
        s3_bias_q   <= '0;
        s4_d_q      <= '0;
        s4_aux_q    <= '0;
        s5_d_q      <= '0;
        s5_aux_q    <= '0;
        s6_d_q      <= '0;
        s6_aux_q    <= '0;
        s7_d_q      <= '0;
        s7_g_q      <= '0;
        s8_d_q      <= '0;
        s8_g_q      <= '0;
        s9_q_q      <= '0;
        s9_guard_q  <= 1'b0;
        s9_sticky_q <= 1'b0;
        s9_d_q      <= '0;
        s9_g_q      <= '0;
        s10_d_q     <= '0;
        s10_g_q     <= '0;
        s11_d_q     <= '0;
        s11_g_pos_q <= 1'b0;
        s12_d_q     <= '0;
        s13_d_q     <= '0;
        s13_sum_q   <= '0;
      end else begin
        if (in_valid_i) begin
          s1_x_q    <= lane_in_data;
          s1_aux_q  <= lane_in_aux;
          s1_bias_q <= lane_bias;
        end
        if (valid_q[1]) begin
          s2_q_q      <= s2_q_d;
          s2_guard_q  <= guard(RndW'($signed(s1_x_q)), s1_shift_q[NShSlice]);
          s2_sticky_q <= sticky(RndW'($signed(s1_x_q)), s1_shift_q[NShSlice+1]);
          s2_aux_q    <= s1_aux_q;
          s2_bias_q   <= s1_bias_q;
        end
        if (valid_q[2]) begin
          s3_d_q    <= s3_d_d;
          s3_aux_q  <= s2_aux_q;
          s3_bias_q <= s2_bias_q;
        end
        if (valid_q[3]) begin
          s4_d_q   <= s4_d_d;
          s4_aux_q <= s3_aux_q;
        end
        if (valid_q[4]) begin
          s5_d_q   <= s4_d_q;
          s5_aux_q <= s4_aux_q;
        end
        if (valid_q[5]) begin
          s6_d_q   <= s6_d_d;
          s6_aux_q <= s5_aux_q;
        end
        if (valid_q[6]) begin
          s7_d_q <= s6_d_q;
          s7_g_q <= s6_loss_en_q ? s6_d_q : s6_aux_q;
        end
        if (valid_q[7]) begin
          s8_d_q <= s7_d_q;
          s8_g_q <= s7_g_q;
        end
        if (valid_q[8]) begin
          s9_q_q      <= s9_q_d;
          s9_guard_q  <= guard(RndW'($signed(s8_p_q)), s8_lshift_q[NShSlice]);
          s9_sticky_q <= sticky(RndW'($signed(s8_p_q)), s8_lshift_q[NShSlice+1]);
          s9_d_q      <= s8_d_q;
          s9_g_q      <= s8_g_q;
        end
        if (valid_q[9]) begin
          s10_d_q <= s10_d_d;
          s10_g_q <= s9_g_q;
        end
        if (valid_q[10]) begin
          s11_d_q     <= s10_d_q;
          s11_g_pos_q <= !s10_g_q[DataW-1] && (s10_g_q != '0);
        end
        if (valid_q[11]) begin
          s12_d_q <= s12_d_d;
        end
        if (valid_q[12]) begin
          s13_d_q   <= s12_d_q;
          s13_sum_q <= s13_sum_d;
        end
      end
    end

    assign out_data_o[j] = s13_d_q;
    assign bgrad_o[j]    = s13_sum_q;
  end

`ifdef SYSTOLE_SVA
  // The pipeline depth matches tpu_pkg::VpuLatency, the constant the core, the models and the tests
  // use: every row that enters at edge e leaves at edge e + VpuLatency - 1, and nothing else leaves.
  // (An explicit delay line rather than ##N, which Verilator only accepts with --timing.)
  logic [tpu_pkg::VpuLatency-1:0] sva_valid_q;
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      sva_valid_q <= '0;
    end else begin
      sva_valid_q <= {sva_valid_q[tpu_pkg::VpuLatency-2:0], in_valid_i};
    end
  end
  VpuLatency: assert property (@(posedge clk_i) out_valid_o == sva_valid_q[tpu_pkg::VpuLatency-1])
    else $error("tpu_vpu: out_valid_o does not follow in_valid_i by VpuLatency cycles");
`endif

endmodule

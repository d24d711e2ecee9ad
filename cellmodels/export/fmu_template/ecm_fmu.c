/* FMI 2.0 Co-Simulation of a cellmodels equivalent-circuit model (ECM).

   This file is the same for every ECM; the model's tables and constants are in
   ecm_model.h, written by cellmodels.export.fmu.export_fmu. Build (Linux):

       cc -shared -fPIC -O2 -ffp-contract=off -o <modelIdentifier>.so ecm_fmu.c -lm

   The update rule is that of cellmodels.reduction.simulate.simulate_ecm, operation
   for operation, so the two agree to rounding:

   - within fmi2DoStep(t, h) the inputs are held (zero-order hold) and the step is split
     into m = max(1, ceil(h / max_step_s - 1e-12)) equal sub-steps;
   - per sub-step, with R0, R_k, tau_k and dU/dT frozen at its start: exact exponential
     update of the RC voltages, exact coulomb counting, exact update of the linear lumped
     thermal model with the heat (I times the RC voltages, averaged exactly over the exponential)
     frozen;
   - in power mode the current is I = (E - sqrt(E^2 - 4 R0 P)) / (2 R0) (computed as
     2 P / (E + sqrt(E^2 - 4 R0 P))), E = OCV - sum v_k,
     at the start of each sub-step and at every output; with the charge-transfer element
     (ECM_HAS_CT) the voltage also loses eta = 2 I0 R_ct asinh(I / (2 I0)), the heat gains
     I eta, and in power mode V I = P is solved by Newton from the root of the linear
     circuit with R0 + R_ct, as in simulate_ecm;
   - with the one-state OCV hysteresis (ECM_HAS_HYS): the source voltage gains M(z) h, the
     state h takes the exact update of dh/dt = -gamma |I| / Q_As (h + sign(I)) over the
     sub-step, h' = -s + (h + s) exp(-gamma |I| dt / Q_As) with s = sign(I) (unchanged at
     I = 0), and the heat gains -I M(z) h with h averaged exactly over that exponential.
     Without it, the preprocessed source is that of an ECM without hysteresis before the
     hysteresis was added.

   Outputs are evaluated on request (fmi2GetReal) from the state and the inputs set, so
   after fmi2SetReal of a new input they are right-continuous like simulate_ecm's.

   Generated code; licence: that of cellmodels (BSD-3-Clause). The fmi2*.h headers are
   the Modelica Association's (BSD-2-Clause, see their text). */

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmi2Functions.h"
#include "ecm_model.h"

#ifndef ECM_HAS_HYS
#define ECM_HAS_HYS 0
#endif

/* value references (the same in modelDescription.xml) */
#define VR_CURRENT 1       /* input (current mode) or output (power mode) [A] */
#define VR_POWER 2         /* input, power mode only [W] */
#define VR_T_AMB 3         /* input [K] */
#define VR_VOLTAGE 10      /* output [V] */
#define VR_SOC 11          /* output [1] */
#define VR_TEMPERATURE 12  /* output [K] */
#define VR_HEAT 13         /* output [W], total: irreversible + reversible */
#define VR_INITIAL_SOC 20  /* parameter [1] */
#define VR_T0 21           /* parameter [K] */
#define VR_MAX_STEP 22     /* parameter [s] */
#if ECM_HAS_HYS
#define VR_HYS 14          /* output [1]: hysteresis state h */
#define VR_INITIAL_HYS 23  /* parameter [1] in [-1, 1] */
#endif

#define WARN_SOC 1
#define WARN_TEMPERATURE 2
#define WARN_CURRENT 4

typedef enum {
    MODE_INSTANTIATED = 1,
    MODE_INITIALIZATION = 2,
    MODE_STEP = 4,
    MODE_TERMINATED = 8,
    MODE_ERROR = 16
} Mode;

/* Everything that makes up a restorable FMU state: plain data, no pointers. */
typedef struct {
    double tag;            /* ECM_STATE_TAG: refuses states of another FMU */
    int mode;
    int warned;            /* validity warnings already logged (bit mask) */
    double time;
    double start_time;
    double z;              /* SOC */
    double temp;           /* cell temperature [K] */
    double v_rc[ECM_NRC_DIM];
    double u;              /* current [A] (current mode) or power [W] (power mode) */
    double t_amb;
    double initial_soc;
    double t0;
    double max_step;
#if ECM_HAS_HYS
    double hys;            /* hysteresis state h in [-1, 1] */
    double initial_hys;
#endif
} State;

typedef struct {
    fmi2CallbackLogger logger;
    fmi2ComponentEnvironment env;
    char *name;
    int logging_on;
    int log_mask;          /* categories asked for: 1 logStatusWarning, 2 logStatusError */
    State s;
} Instance;

static const int power_mode = ECM_POWER_MODE;

/* ---------------------------------------------------------------- logging */

static void log_message(const Instance *c, fmi2Status status, const char *category,
                        const char *fmt, ...) {
    char buf[1024], out[2048];
    size_t i, j = 0;
    va_list ap;
    if (c == NULL || c->logger == NULL) return;
    if (status < fmi2Error && !c->logging_on) return;
    if (status < fmi2Error && strcmp(category, "logStatusWarning") == 0 && !(c->log_mask & 1))
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* the logger takes a printf format: escape '%' */
    for (i = 0; buf[i] != '\0' && j + 2 < sizeof out; i++) {
        out[j++] = buf[i];
        if (buf[i] == '%') out[j++] = '%';
    }
    out[j] = '\0';
    c->logger(c->env, c->name, status, category, out);
}

#define LOG_ERROR(c, ...) log_message((c), fmi2Error, "logStatusError", __VA_ARGS__)
#define LOG_WARNING(c, ...) log_message((c), fmi2Warning, "logStatusWarning", __VA_ARGS__)

static int allowed(Instance *c, const char *function, int modes) {
    if (c == NULL) return 0;
    if (!(c->s.mode & modes)) {
        LOG_ERROR(c, "%s must not be called in the FMU's current state (%d).", function,
                  c->s.mode);
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- the ECM */

/* numpy.interp at one point (clamped), operation for operation */
static double interp1(const double *xs, const double *ys, int n, double x) {
    int lo = 0, hi = n - 1;
    if (x <= xs[0]) return ys[0];
    if (x >= xs[n - 1]) return ys[n - 1];
    while (hi - lo > 1) { /* xs[lo] <= x < xs[hi] */
        int mid = (lo + hi) / 2;
        if (xs[mid] <= x) lo = mid; else hi = mid;
    }
    if (xs[lo] == x) return ys[lo];
    return (ys[lo + 1] - ys[lo]) / (xs[lo + 1] - xs[lo]) * (x - xs[lo]) + ys[lo];
}

/* index i of the grid cell [xs[i], xs[i+1]] holding x (x already clamped), as
   clip(searchsorted(xs, x) - 1, 0, n - 2) */
static int cell_index(const double *xs, int n, double x) {
    int k = 0;
    while (k < n && xs[k] < x) k++;
    k -= 1;
    if (k < 0) k = 0;
    if (k > n - 2) k = n - 2;
    return k;
}

/* cellmodels.reduction.ecm.bilinear: table[i * ECM_NT + j], clamped at the edges */
static double bilinear(const double *table, double x, double y) {
    int i, j;
    double wx, wy;
    x = x < ECM_SOC[0] ? ECM_SOC[0] : x;
    x = x > ECM_SOC[ECM_NS - 1] ? ECM_SOC[ECM_NS - 1] : x;
    i = cell_index(ECM_SOC, ECM_NS, x);
    wx = (x - ECM_SOC[i]) / (ECM_SOC[i + 1] - ECM_SOC[i]);
    if (ECM_NT == 1) return (1 - wx) * table[i] + wx * table[i + 1];
    y = y < ECM_TEMPERATURE[0] ? ECM_TEMPERATURE[0] : y;
    y = y > ECM_TEMPERATURE[ECM_NT - 1] ? ECM_TEMPERATURE[ECM_NT - 1] : y;
    j = cell_index(ECM_TEMPERATURE, ECM_NT, y);
    wy = (y - ECM_TEMPERATURE[j]) / (ECM_TEMPERATURE[j + 1] - ECM_TEMPERATURE[j]);
    return (1 - wx) * (1 - wy) * table[i * ECM_NT + j]
         + wx * (1 - wy) * table[(i + 1) * ECM_NT + j]
         + (1 - wx) * wy * table[i * ECM_NT + j + 1]
         + wx * wy * table[(i + 1) * ECM_NT + j + 1];
}

static double ocv(double z, double temp) {
    double u = interp1(ECM_SOC, ECM_OCV, ECM_NS, z);
    double du = interp1(ECM_SOC, ECM_DOCV_DT, ECM_NS, z);
    return u + (temp - ECM_T_REF) * du;
}

static double docv_dt(double z) { return interp1(ECM_SOC, ECM_DOCV_DT, ECM_NS, z); }

static double r0_of(double z, double temp) { return bilinear(ECM_R0, z, temp); }

#if ECM_HAS_HYS
/* M(z): half the gap between the charge and discharge OCV branches [V] */
static double hys_of(double z) { return interp1(ECM_SOC, ECM_HYS, ECM_NS, z); }
#endif

/* The charge-transfer element: R_ct and I0 at (z, temp), and its voltage at current i. */
static void ct_of(double z, double temp, double *r_ct, double *i0) {
#if ECM_HAS_CT
    *r_ct = bilinear(ECM_CT_R, z, temp);
    *i0 = bilinear(ECM_CT_I0, z, temp);
#else
    (void)z; (void)temp;
    *r_ct = 0.0;
    *i0 = 1.0;
#endif
}

static double eta_ct(double z, double temp, double i) {
#if ECM_HAS_CT
    double r_ct, i0;
    ct_of(z, temp, &r_ct, &i0);
    return 2.0 * i0 * r_ct * asinh(i / (2.0 * i0));
#else
    (void)z; (void)temp; (void)i;
    return 0.0;
#endif
}

static void rc_of(double z, double temp, double *r, double *tau) {
    int k;
    for (k = 0; k < ECM_NRC; k++) {
        r[k] = bilinear(ECM_RC_R + (size_t)k * ECM_NS * ECM_NT, z, temp);
        tau[k] = bilinear(ECM_RC_TAU + (size_t)k * ECM_NS * ECM_NT, z, temp);
    }
}

static double sum_rc(const State *s) {
    double total = 0.0;
    int k;
    for (k = 0; k < ECM_NRC; k++) total += s->v_rc[k];
    return total;
}

/* The current drawn by the input: the input itself, or in power mode the solution of
   V I = P. Returns 0, or -1 (logged) when the power is beyond what the cell can deliver. */
/* The smaller root of r I^2 - e I + p = 0 (disc = e^2 - 4 r p >= 0), as simulate_ecm takes
   it: 2 p / (e + sqrt(disc)) where e > 0, with no cancellation for a small power. */
static double smaller_root(double e, double r, double p, double disc) {
    if (e > 0.0) return 2.0 * p / (e + sqrt(disc));
    return (e - sqrt(disc)) / (2.0 * r);
}

static int current_of(const Instance *c, const State *s, double at_time, double *i_out) {
    double e, r0, disc, r_ct, i0, r_lin;
    if (!power_mode) {
        *i_out = s->u;
        return 0;
    }
#if ECM_HAS_HYS
    e = ocv(s->z, s->temp) + hys_of(s->z) * s->hys - sum_rc(s);
#else
    e = ocv(s->z, s->temp) - sum_rc(s);
#endif
    r0 = r0_of(s->z, s->temp);
    ct_of(s->z, s->temp, &r_ct, &i0);
    r_lin = r0 + r_ct;
    disc = e * e - 4.0 * r_lin * s->u;
    if (!ECM_HAS_CT) {
        if (disc < 0) {
            LOG_ERROR(c, "The power %.6g W exceeds what the cell can deliver (%.6g W at "
                      "open-circuit %.4f V behind %.4g Ohm) at t = %.9g s.",
                      s->u, e * e / (4 * r_lin), e, r_lin, at_time);
            return -1;
        }
        *i_out = smaller_root(e, r_lin, s->u, disc);
        return 0;
    } else {
        double sc = 2.0 * i0, i = smaller_root(e, r_lin, s->u, disc < 0 ? 0.0 : disc);
        int it;
        for (it = 0; it < 60; it++) {
            double eta = sc * r_ct * asinh(i / sc);
            double deta = r_ct / sqrt(1.0 + (i / sc) * (i / sc));
            double f = (e - r0 * i - eta) * i - s->u;
            double df = e - 2.0 * r0 * i - eta - i * deta;
            double step;
            if (df <= 0.0) break;
            step = f / df;
            i -= step;
            if (fabs(step) <= 1e-13 * (fabs(i) > 1.0 ? fabs(i) : 1.0)) {
                *i_out = i;
                return 0;
            }
        }
        LOG_ERROR(c, "The power %.6g W exceeds what the cell can deliver at open-circuit "
                  "%.4f V behind R0 %.4g Ohm and the charge-transfer element (R_ct %.4g "
                  "Ohm, I0 %.4g A) at t = %.9g s.", s->u, e, r0, r_ct, i0, at_time);
        return -1;
    }
}

/* Advance the state over [s->time, s->time + span] with the inputs held. */
static int advance(const Instance *c, State *s, double span) {
    double m_real = ceil(span / s->max_step - 1e-12);
    long long m = m_real < 1.0 ? 1 : (long long)m_real;
    double h = span / (double)m;
    double r[ECM_NRC_DIM], tau[ECM_NRC_DIM];
    long long step;
    int k;
    for (step = 0; step < m; step++) {
        double i_now, r0, q_pol = 0.0, q;
        if (current_of(c, s, s->time + (double)step * h, &i_now) != 0) return -1;
        r0 = r0_of(s->z, s->temp);
        rc_of(s->z, s->temp, r, tau);
        for (k = 0; k < ECM_NRC; k++) {
            double decay = exp(-h / tau[k]);
            double v_inf = r[k] * i_now;
            double dv = s->v_rc[k] - v_inf;
            /* I times the RC voltage, averaged exactly over the exponential */
            q_pol += i_now * (v_inf + dv * tau[k] / h * (1 - decay));
            s->v_rc[k] = v_inf + dv * decay;
        }
        q = r0 * (i_now * i_now) + i_now * eta_ct(s->z, s->temp, i_now) + q_pol
            - i_now * s->temp * docv_dt(s->z);
#if ECM_HAS_HYS
        if (i_now != 0.0) {
            /* heat -I M h with h averaged exactly over its exponential; then the exact h */
            double sgn = i_now > 0 ? 1.0 : -1.0;
            double a = ECM_HYS_RATE * fabs(i_now) * h / ECM_Q_AS;
            double mean_h = -sgn + (s->hys + sgn) * (a > 1e-12 ? -expm1(-a) / a : 1.0);
            q -= i_now * hys_of(s->z) * mean_h;
            s->hys = -sgn + (s->hys + sgn) * exp(-a);
        }
#endif
        s->z -= i_now * h / ECM_Q_AS;
        {
            /* exact for the linear node, as simulate_ecm: dT = (q - hA (T - T_amb)) h / C
               phi(x), phi(x) = (1 - exp(-x)) / x, x = hA h / C (no T_amb + q / hA, which
               cancels for a small hA; phi = 1 is the adiabatic step) */
            double x = ECM_HA * h / ECM_C_TH;
            double phi = x > 0.0 ? -expm1(-x) / x : 1.0;
            s->temp += (q - ECM_HA * (s->temp - s->t_amb)) * h / ECM_C_TH * phi;
        }
    }
    return 0;
}

/* Outputs at the present state and inputs. Returns 0, or -1 (logged). */
typedef struct { double current, voltage, heat; } Outputs;

static int outputs_of(const Instance *c, const State *s, Outputs *o) {
    double i_now, r0, r[ECM_NRC_DIM], tau[ECM_NRC_DIM], q_pol = 0.0, q_irr, q_rev, eta;
    int k;
    if (current_of(c, s, s->time, &i_now) != 0) return -1;
    r0 = r0_of(s->z, s->temp);
    rc_of(s->z, s->temp, r, tau);
    (void)r; (void)tau;
    for (k = 0; k < ECM_NRC; k++)
        q_pol += i_now * s->v_rc[k];
    eta = eta_ct(s->z, s->temp, i_now);
    q_irr = r0 * (i_now * i_now) + q_pol + i_now * eta;
    q_rev = -i_now * s->temp * docv_dt(s->z);
    o->current = i_now;
#if ECM_HAS_HYS
    {
        double v_hys = hys_of(s->z) * s->hys;
        q_irr -= i_now * v_hys;
        o->voltage = ocv(s->z, s->temp) + v_hys - r0 * i_now - eta - sum_rc(s);
    }
#else
    o->voltage = ocv(s->z, s->temp) - r0 * i_now - eta - sum_rc(s);
#endif
    o->heat = q_irr + q_rev;
    return 0;
}

/* Log once per run when a state leaves the range the ECM was identified over. */
static void check_validity(Instance *c) {
    State *s = &c->s;
    double i_now;
    if (s->mode != MODE_STEP) return;
    if (!(s->warned & WARN_SOC) && !(ECM_VALID_SOC_MIN - ECM_VALID_SOC_TOL <= s->z && s->z <= ECM_VALID_SOC_MAX + ECM_VALID_SOC_TOL)) {
        s->warned |= WARN_SOC;
        LOG_WARNING(c, "The ECM is used outside its validity: soc = %.6g at t = %.9g s is "
                    "outside the identified range [%.6g, %.6g] by %.3g. (Logged once per run.)",
                    s->z, s->time, ECM_VALID_SOC_MIN, ECM_VALID_SOC_MAX,
                    s->z > ECM_VALID_SOC_MAX ? s->z - ECM_VALID_SOC_MAX
                                             : ECM_VALID_SOC_MIN - s->z);
    }
    if (!(s->warned & WARN_TEMPERATURE)
        && !(ECM_VALID_T_MIN - ECM_VALID_T_TOL <= s->temp
             && s->temp <= ECM_VALID_T_MAX + ECM_VALID_T_TOL)) {
        s->warned |= WARN_TEMPERATURE;
        LOG_WARNING(c, "The ECM is used outside its validity: temperature_K = %.6g at "
                    "t = %.9g s is outside the identified range [%.6g, %.6g] by %.3g. "
                    "(Logged once per run.)",
                    s->temp, s->time, ECM_VALID_T_MIN, ECM_VALID_T_MAX,
                    s->temp > ECM_VALID_T_MAX ? s->temp - ECM_VALID_T_MAX
                                              : ECM_VALID_T_MIN - s->temp);
    }
    /* c == NULL: an infeasible power is reported by fmi2GetReal and fmi2DoStep, not here */
    if (!(s->warned & WARN_CURRENT) && current_of(NULL, s, s->time, &i_now) == 0) {
        if (!(fabs(i_now) <= ECM_VALID_I_MAX + ECM_VALID_I_TOL)) {
            s->warned |= WARN_CURRENT;
            LOG_WARNING(c, "The ECM is used outside its validity: current_A = %.6g at "
                        "t = %.9g s is outside the identified range [%.6g, %.6g] by %.3g. "
                        "(Logged once per run.)",
                        i_now, s->time, -ECM_VALID_I_MAX, ECM_VALID_I_MAX,
                        fabs(i_now) - ECM_VALID_I_MAX);
        }
    }
}

static void set_start_values(State *s) {
    int k;
    memset(s, 0, sizeof *s);
    s->tag = ECM_STATE_TAG;
    s->mode = MODE_INSTANTIATED;
    s->u = power_mode ? ECM_START_POWER : ECM_START_CURRENT;
    s->t_amb = ECM_START_T_AMB;
    s->initial_soc = ECM_START_SOC;
    s->t0 = ECM_START_T0;
    s->max_step = ECM_START_MAX_STEP;
    s->z = s->initial_soc;
    s->temp = s->t0;
    for (k = 0; k < ECM_NRC_DIM; k++) s->v_rc[k] = 0.0;
#if ECM_HAS_HYS
    s->initial_hys = ECM_START_HYS;
    s->hys = s->initial_hys;
#endif
}

/* before the end of initialization the state follows the parameters */
static void sync_initial_state(State *s) {
    int k;
    if (!(s->mode & (MODE_INSTANTIATED | MODE_INITIALIZATION))) return;
    s->z = s->initial_soc;
    s->temp = s->t0;
    s->time = s->start_time;
    for (k = 0; k < ECM_NRC_DIM; k++) s->v_rc[k] = 0.0;
#if ECM_HAS_HYS
    s->hys = s->initial_hys;
#endif
}

/* ---------------------------------------------------------------- common functions */

const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }

const char *fmi2GetVersion(void) { return fmi2Version; }

fmi2Status fmi2SetDebugLogging(fmi2Component comp, fmi2Boolean loggingOn, size_t nCategories,
                               const fmi2String categories[]) {
    Instance *c = (Instance *)comp;
    size_t i;
    if (c == NULL) return fmi2Error;
    for (i = 0; i < nCategories; i++) {
        if (categories == NULL || categories[i] == NULL
            || (strcmp(categories[i], "logStatusWarning") != 0
                && strcmp(categories[i], "logStatusError") != 0)) {
            LOG_ERROR(c, "fmi2SetDebugLogging: unknown log category '%s' (the categories "
                      "are logStatusWarning and logStatusError).",
                      categories == NULL || categories[i] == NULL ? "(null)" : categories[i]);
            return fmi2Error;
        }
    }
    c->logging_on = loggingOn ? 1 : 0;
    c->log_mask = 3;
    if (nCategories > 0) {
        c->log_mask = 0;
        for (i = 0; i < nCategories; i++)
            c->log_mask |= strcmp(categories[i], "logStatusWarning") == 0 ? 1 : 2;
    }
    return fmi2OK;
}

fmi2Component fmi2Instantiate(fmi2String instanceName, fmi2Type fmuType, fmi2String fmuGUID,
                              fmi2String fmuResourceLocation,
                              const fmi2CallbackFunctions *functions, fmi2Boolean visible,
                              fmi2Boolean loggingOn) {
    Instance *c;
    size_t n;
    (void)fmuResourceLocation;
    (void)visible;
    if (functions == NULL || instanceName == NULL || instanceName[0] == '\0') return NULL;
    if (fmuType != fmi2CoSimulation) {
        if (functions->logger != NULL)
            functions->logger(functions->componentEnvironment, instanceName, fmi2Error,
                              "logStatusError",
                              "This FMU supports Co-Simulation only, not Model Exchange.");
        return NULL;
    }
    if (fmuGUID == NULL || strcmp(fmuGUID, ECM_GUID) != 0) {
        if (functions->logger != NULL)
            functions->logger(functions->componentEnvironment, instanceName, fmi2Error,
                              "logStatusError",
                              "The GUID does not match this FMU's modelDescription.xml.");
        return NULL;
    }
    c = (Instance *)calloc(1, sizeof(Instance));
    if (c == NULL) return NULL;
    n = strlen(instanceName);
    c->name = (char *)malloc(n + 1);
    if (c->name == NULL) {
        free(c);
        return NULL;
    }
    memcpy(c->name, instanceName, n + 1);
    c->logger = functions->logger;
    c->env = functions->componentEnvironment;
    c->logging_on = loggingOn ? 1 : 0;
    c->log_mask = 3;
    set_start_values(&c->s);
    return (fmi2Component)c;
}

void fmi2FreeInstance(fmi2Component comp) {
    Instance *c = (Instance *)comp;
    if (c == NULL) return;
    free(c->name);
    free(c);
}

fmi2Status fmi2SetupExperiment(fmi2Component comp, fmi2Boolean toleranceDefined,
                               fmi2Real tolerance, fmi2Real startTime,
                               fmi2Boolean stopTimeDefined, fmi2Real stopTime) {
    Instance *c = (Instance *)comp;
    (void)toleranceDefined;
    (void)tolerance;
    if (!allowed(c, "fmi2SetupExperiment", MODE_INSTANTIATED)) return fmi2Error;
    if (!isfinite(startTime)) {
        LOG_ERROR(c, "fmi2SetupExperiment: the start time must be finite.");
        return fmi2Error;
    }
    if (stopTimeDefined && !(stopTime >= startTime)) {
        LOG_ERROR(c, "fmi2SetupExperiment: the stop time %.9g s is before the start time "
                  "%.9g s.", stopTime, startTime);
        return fmi2Error;
    }
    c->s.start_time = startTime;
    c->s.time = startTime;
    return fmi2OK;
}

fmi2Status fmi2EnterInitializationMode(fmi2Component comp) {
    Instance *c = (Instance *)comp;
    if (!allowed(c, "fmi2EnterInitializationMode", MODE_INSTANTIATED)) return fmi2Error;
    c->s.mode = MODE_INITIALIZATION;
    sync_initial_state(&c->s);
    return fmi2OK;
}

fmi2Status fmi2ExitInitializationMode(fmi2Component comp) {
    Instance *c = (Instance *)comp;
    if (!allowed(c, "fmi2ExitInitializationMode", MODE_INITIALIZATION)) return fmi2Error;
    sync_initial_state(&c->s);
    c->s.mode = MODE_STEP;
    c->s.warned = 0;
    check_validity(c);
    return fmi2OK;
}

fmi2Status fmi2Terminate(fmi2Component comp) {
    Instance *c = (Instance *)comp;
    if (!allowed(c, "fmi2Terminate", MODE_STEP | MODE_ERROR)) return fmi2Error;
    c->s.mode = MODE_TERMINATED;
    return fmi2OK;
}

fmi2Status fmi2Reset(fmi2Component comp) {
    Instance *c = (Instance *)comp;
    if (c == NULL) return fmi2Error;
    set_start_values(&c->s);
    return fmi2OK;
}

/* ---------------------------------------------------------------- get and set */

static int check_value(Instance *c, fmi2ValueReference vr, double value) {
    const int before_init = MODE_INSTANTIATED | MODE_INITIALIZATION;
    switch (vr) {
    case VR_CURRENT:
        if (power_mode) break;
        if (!isfinite(value)) {
            LOG_ERROR(c, "current_A must be finite. Got %g.", value);
            return 0;
        }
        return 1;
    case VR_POWER:
        if (!power_mode) break;
        if (!isfinite(value)) {
            LOG_ERROR(c, "power_W must be finite. Got %g.", value);
            return 0;
        }
        return 1;
    case VR_T_AMB:
        if (!(value > 0 && value <= 1000)) {
            LOG_ERROR(c, "T_amb_K must be in the range (0, 1000] K. Got %g.", value);
            return 0;
        }
        return 1;
    case VR_INITIAL_SOC:
    case VR_T0:
    case VR_MAX_STEP:
#if ECM_HAS_HYS
    case VR_INITIAL_HYS:
        if (!(c->s.mode & before_init)) {
            LOG_ERROR(c, "The parameters initial_soc, initial_hysteresis, T0_K and "
                      "max_step_s are fixed: they can be set before the end of "
                      "initialization only.");
            return 0;
        }
        if (vr == VR_INITIAL_HYS && !(value >= -1 && value <= 1)) {
            LOG_ERROR(c, "initial_hysteresis must be in the range [-1, 1]. Got %g.", value);
            return 0;
        }
#else
        if (!(c->s.mode & before_init)) {
            LOG_ERROR(c, "The parameters initial_soc, T0_K and max_step_s are fixed: they "
                      "can be set before the end of initialization only.");
            return 0;
        }
#endif
        if (vr == VR_INITIAL_SOC && !(value >= 0 && value <= 1)) {
            LOG_ERROR(c, "initial_soc must be in the range [0, 1]. Got %g.", value);
            return 0;
        }
        if (vr == VR_T0 && !(value > 0 && value <= 1000)) {
            LOG_ERROR(c, "T0_K must be in the range (0, 1000] K. Got %g.", value);
            return 0;
        }
        if (vr == VR_MAX_STEP && !(value > 0 && isfinite(value))) {
            LOG_ERROR(c, "max_step_s must be in the range (0, inf) s. Got %g.", value);
            return 0;
        }
        return 1;
    default:
        break;
    }
    LOG_ERROR(c, "fmi2SetReal: value reference %u is not an input or parameter of this FMU.",
              (unsigned)vr);
    return 0;
}

fmi2Status fmi2SetReal(fmi2Component comp, const fmi2ValueReference vr[], size_t nvr,
                       const fmi2Real value[]) {
    Instance *c = (Instance *)comp;
    size_t i;
    if (!allowed(c, "fmi2SetReal", MODE_INSTANTIATED | MODE_INITIALIZATION | MODE_STEP))
        return fmi2Error;
    if (nvr > 0 && (vr == NULL || value == NULL)) {
        LOG_ERROR(c, "fmi2SetReal: NULL arrays.");
        return fmi2Error;
    }
    for (i = 0; i < nvr; i++) /* all or nothing */
        if (!check_value(c, vr[i], value[i])) return fmi2Error;
    for (i = 0; i < nvr; i++) {
        switch (vr[i]) {
        case VR_CURRENT:
        case VR_POWER: c->s.u = value[i]; break;
        case VR_T_AMB: c->s.t_amb = value[i]; break;
        case VR_INITIAL_SOC: c->s.initial_soc = value[i]; break;
        case VR_T0: c->s.t0 = value[i]; break;
        case VR_MAX_STEP: c->s.max_step = value[i]; break;
#if ECM_HAS_HYS
        case VR_INITIAL_HYS: c->s.initial_hys = value[i]; break;
#endif
        default: break;
        }
    }
    sync_initial_state(&c->s);
    return fmi2OK;
}

fmi2Status fmi2GetReal(fmi2Component comp, const fmi2ValueReference vr[], size_t nvr,
                       fmi2Real value[]) {
    Instance *c = (Instance *)comp;
    Outputs o = {0.0, 0.0, 0.0};
    int have_outputs = 0;
    size_t i;
    if (!allowed(c, "fmi2GetReal", MODE_INSTANTIATED | MODE_INITIALIZATION | MODE_STEP
                                       | MODE_TERMINATED | MODE_ERROR))
        return fmi2Error;
    if (nvr > 0 && (vr == NULL || value == NULL)) {
        LOG_ERROR(c, "fmi2GetReal: NULL arrays.");
        return fmi2Error;
    }
    sync_initial_state(&c->s);
    for (i = 0; i < nvr; i++) {
        int needs_outputs = vr[i] == VR_VOLTAGE || vr[i] == VR_HEAT
                            || (vr[i] == VR_CURRENT && power_mode);
        if (needs_outputs && !have_outputs) {
            if (outputs_of(c, &c->s, &o) != 0) return fmi2Error;
            have_outputs = 1;
        }
        switch (vr[i]) {
        case VR_CURRENT: value[i] = power_mode ? o.current : c->s.u; break;
        case VR_POWER:
            if (!power_mode) goto unknown;
            value[i] = c->s.u;
            break;
        case VR_T_AMB: value[i] = c->s.t_amb; break;
        case VR_VOLTAGE: value[i] = o.voltage; break;
        case VR_SOC: value[i] = c->s.z; break;
        case VR_TEMPERATURE: value[i] = c->s.temp; break;
        case VR_HEAT: value[i] = o.heat; break;
        case VR_INITIAL_SOC: value[i] = c->s.initial_soc; break;
        case VR_T0: value[i] = c->s.t0; break;
        case VR_MAX_STEP: value[i] = c->s.max_step; break;
#if ECM_HAS_HYS
        case VR_HYS: value[i] = c->s.hys; break;
        case VR_INITIAL_HYS: value[i] = c->s.initial_hys; break;
#endif
        default: goto unknown;
        }
    }
    return fmi2OK;
unknown:
    LOG_ERROR(c, "fmi2GetReal: value reference %u is not a Real variable of this FMU.",
              (unsigned)vr[i]);
    return fmi2Error;
}

static fmi2Status no_variables(Instance *c, const char *function, size_t nvr) {
    if (c == NULL) return fmi2Error;
    if (nvr == 0) return fmi2OK;
    LOG_ERROR(c, "%s: this FMU has no variables of that type.", function);
    return fmi2Error;
}

fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          fmi2Integer value[]) {
    (void)vr; (void)value;
    return no_variables((Instance *)c, "fmi2GetInteger", nvr);
}

fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          fmi2Boolean value[]) {
    (void)vr; (void)value;
    return no_variables((Instance *)c, "fmi2GetBoolean", nvr);
}

fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                         fmi2String value[]) {
    (void)vr; (void)value;
    return no_variables((Instance *)c, "fmi2GetString", nvr);
}

fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          const fmi2Integer value[]) {
    (void)vr; (void)value;
    return no_variables((Instance *)c, "fmi2SetInteger", nvr);
}

fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          const fmi2Boolean value[]) {
    (void)vr; (void)value;
    return no_variables((Instance *)c, "fmi2SetBoolean", nvr);
}

fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                         const fmi2String value[]) {
    (void)vr; (void)value;
    return no_variables((Instance *)c, "fmi2SetString", nvr);
}

/* ---------------------------------------------------------------- FMU state */

fmi2Status fmi2GetFMUstate(fmi2Component comp, fmi2FMUstate *FMUstate) {
    Instance *c = (Instance *)comp;
    State *copy;
    if (!allowed(c, "fmi2GetFMUstate", MODE_INSTANTIATED | MODE_INITIALIZATION | MODE_STEP
                                           | MODE_TERMINATED))
        return fmi2Error;
    if (FMUstate == NULL) return fmi2Error;
    copy = (State *)(*FMUstate != NULL ? *FMUstate : malloc(sizeof(State)));
    if (copy == NULL) {
        LOG_ERROR(c, "fmi2GetFMUstate: out of memory.");
        return fmi2Error;
    }
    *copy = c->s;
    *FMUstate = copy;
    return fmi2OK;
}

fmi2Status fmi2SetFMUstate(fmi2Component comp, fmi2FMUstate FMUstate) {
    Instance *c = (Instance *)comp;
    const State *s = (const State *)FMUstate;
    if (c == NULL) return fmi2Error;
    if (s == NULL || s->tag != ECM_STATE_TAG) {
        LOG_ERROR(c, "fmi2SetFMUstate: not a state of this FMU.");
        return fmi2Error;
    }
    c->s = *s;
    return fmi2OK;
}

fmi2Status fmi2FreeFMUstate(fmi2Component comp, fmi2FMUstate *FMUstate) {
    (void)comp;
    if (FMUstate == NULL) return fmi2OK;
    free(*FMUstate);
    *FMUstate = NULL;
    return fmi2OK;
}

fmi2Status fmi2SerializedFMUstateSize(fmi2Component comp, fmi2FMUstate FMUstate, size_t *size) {
    (void)FMUstate;
    if (comp == NULL || size == NULL) return fmi2Error;
    *size = sizeof(State);
    return fmi2OK;
}

fmi2Status fmi2SerializeFMUstate(fmi2Component comp, fmi2FMUstate FMUstate,
                                 fmi2Byte serializedState[], size_t size) {
    Instance *c = (Instance *)comp;
    if (c == NULL) return fmi2Error;
    if (FMUstate == NULL || serializedState == NULL || size != sizeof(State)) {
        LOG_ERROR(c, "fmi2SerializeFMUstate: expected a buffer of %u bytes.",
                  (unsigned)sizeof(State));
        return fmi2Error;
    }
    memcpy(serializedState, FMUstate, sizeof(State));
    return fmi2OK;
}

fmi2Status fmi2DeSerializeFMUstate(fmi2Component comp, const fmi2Byte serializedState[],
                                   size_t size, fmi2FMUstate *FMUstate) {
    Instance *c = (Instance *)comp;
    State *s;
    if (c == NULL || FMUstate == NULL) return fmi2Error;
    if (serializedState == NULL || size != sizeof(State)) {
        LOG_ERROR(c, "fmi2DeSerializeFMUstate: not a serialized state of this FMU "
                  "(wrong size).");
        return fmi2Error;
    }
    {
        State check;
        memcpy(&check, serializedState, sizeof(State));
        if (check.tag != ECM_STATE_TAG) {
            LOG_ERROR(c, "fmi2DeSerializeFMUstate: not a serialized state of this FMU.");
            return fmi2Error;
        }
        s = (State *)(*FMUstate != NULL ? *FMUstate : malloc(sizeof(State)));
        if (s == NULL) return fmi2Error;
        *s = check;
    }
    *FMUstate = s;
    return fmi2OK;
}

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference vUnknown_ref[],
                                        size_t nUnknown, const fmi2ValueReference vKnown_ref[],
                                        size_t nKnown, const fmi2Real dvKnown[],
                                        fmi2Real dvUnknown[]) {
    (void)vUnknown_ref; (void)nUnknown; (void)vKnown_ref; (void)nKnown; (void)dvKnown;
    (void)dvUnknown;
    LOG_ERROR((Instance *)c, "fmi2GetDirectionalDerivative is not provided by this FMU.");
    return fmi2Error;
}

/* ---------------------------------------------------------------- co-simulation */

fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[],
                                       size_t nvr, const fmi2Integer order[],
                                       const fmi2Real value[]) {
    (void)vr; (void)nvr; (void)order; (void)value;
    LOG_ERROR((Instance *)c, "fmi2SetRealInputDerivatives: this FMU holds its inputs "
              "(canInterpolateInputs is false).");
    return fmi2Error;
}

fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[],
                                        size_t nvr, const fmi2Integer order[],
                                        fmi2Real value[]) {
    (void)vr; (void)nvr; (void)order; (void)value;
    LOG_ERROR((Instance *)c, "fmi2GetRealOutputDerivatives: not provided by this FMU "
              "(maxOutputDerivativeOrder is 0).");
    return fmi2Error;
}

fmi2Status fmi2DoStep(fmi2Component comp, fmi2Real currentCommunicationPoint,
                      fmi2Real communicationStepSize,
                      fmi2Boolean noSetFMUStatePriorToCurrentPoint) {
    Instance *c = (Instance *)comp;
    State next;
    double t = currentCommunicationPoint, h = communicationStepSize;
    (void)noSetFMUStatePriorToCurrentPoint;
    if (!allowed(c, "fmi2DoStep", MODE_STEP)) return fmi2Error;
    if (!(h > 0 && isfinite(h))) {
        LOG_ERROR(c, "fmi2DoStep: the communication step size must be in the range (0, inf) "
                  "s. Got %g.", h);
        return fmi2Error;
    }
    if (!isfinite(t) || fabs(t - c->s.time) > 1e-9 * (1.0 + fabs(t))) {
        LOG_ERROR(c, "fmi2DoStep: the FMU is at t = %.17g s but the step starts at "
                  "%.17g s (restore a state with fmi2SetFMUstate to go back).",
                  c->s.time, t);
        return fmi2Error;
    }
    next = c->s;
    next.time = t;
    if (advance(c, &next, h) != 0) {
        c->s.mode = MODE_ERROR;
        return fmi2Error;
    }
    next.time = t + h;
    c->s = next;
    check_validity(c);
    return fmi2OK;
}

fmi2Status fmi2CancelStep(fmi2Component c) {
    LOG_ERROR((Instance *)c, "fmi2CancelStep: fmi2DoStep never runs asynchronously here.");
    return fmi2Error;
}

fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *value) {
    if (c == NULL || value == NULL) return fmi2Error;
    if (s == fmi2DoStepStatus) {
        *value = fmi2OK;
        return fmi2OK;
    }
    return fmi2Discard;
}

fmi2Status fmi2GetRealStatus(fmi2Component comp, const fmi2StatusKind s, fmi2Real *value) {
    Instance *c = (Instance *)comp;
    if (c == NULL || value == NULL) return fmi2Error;
    if (s == fmi2LastSuccessfulTime) {
        *value = c->s.time;
        return fmi2OK;
    }
    return fmi2Discard;
}

fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *value) {
    (void)s; (void)value;
    return c == NULL ? fmi2Error : fmi2Discard;
}

fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *value) {
    if (c == NULL || value == NULL) return fmi2Error;
    if (s == fmi2Terminated) {
        *value = fmi2False;
        return fmi2OK;
    }
    return fmi2Discard;
}

fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *value) {
    (void)s; (void)value;
    return c == NULL ? fmi2Error : fmi2Discard;
}

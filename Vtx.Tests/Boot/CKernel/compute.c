/* The computation both the guest kernel and the host oracle run: x87 long double, SSE2 double and
   float, SSE2/SSSE3/SSE4.1 integer, SSE4.2 CRC32 and PCMPISTRI, struct copies and memcpy. Output is
   text (bit patterns in hex, integers in decimal) written into buf; the return value is its length. */
#include <stdint.h>
#include <stddef.h>
#include <nmmintrin.h>

typedef struct { char *p; } W;
static void put(W *w, char c) { *w->p++ = c; }
static void str(W *w, const char *s) { while (*s) put(w, *s++); }
static void hex(W *w, uint64_t v, int digits) { for (int i = digits - 1; i >= 0; i--) put(w, "0123456789abcdef"[(v >> (4 * i)) & 15]); }
static void dec(W *w, int64_t v)
{
    char t[24]; int n = 0;
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    if (v < 0) put(w, '-');
    do { t[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    while (n) put(w, t[--n]);
}
static void dbl(W *w, double d) { uint64_t b; __builtin_memcpy(&b, &d, 8); hex(w, b, 16); }
static void flt(W *w, float f) { uint32_t b; __builtin_memcpy(&b, &f, 4); hex(w, b, 8); }
static void ldbl(W *w, long double d)
{
    unsigned char b[16]; uint64_t lo; uint16_t hi;
    __builtin_memcpy(b, &d, 16);
    __builtin_memcpy(&lo, b, 8); __builtin_memcpy(&hi, b + 8, 2);
    hex(w, hi, 4); put(w, ':'); hex(w, lo, 16);
}
static void line(W *w, const char *name) { put(w, '\n'); str(w, name); str(w, ": "); }

/* ---- x87 (long double stays on the x87 stack even with -mfpmath=sse) ---- */
__attribute__((noinline)) static long double basel(int n)
{
    long double s = 0, p = 1;
    for (int i = 1; i <= n; i++) { s += 1.0L / ((long double)i * i); p *= 1.0001L; }
    return __builtin_sqrtl(s * 6.0L) + p;
}

__attribute__((noinline)) static long double x87_mix(volatile long double *v, int n)
{
    long double a = 0;
    for (int i = 0; i < n; i++)
    {
        long double x = v[i];
        a = a * 0.75L - x / 3.0L;
        if (a < -1000.0L) a = -a;
        a += __builtin_fabsl(x) > 2.0L ? 1.0L : -0.5L;
    }
    return a;
}

/* ---- SSE2 double and SSE float ---- */
__attribute__((noinline)) static double sse_double(int n)
{
    double acc = 0, g = 2.0;
    for (int i = 1; i <= n; i++)
    {
        acc += __builtin_sqrt((double)i) * 1.5 - (double)i / 7.0;
        acc = acc > 1e6 ? acc - 1e6 : acc;
    }
    for (int i = 0; i < 30; i++) g = 0.5 * (g + 2.0 / g);
    return acc * g;
}

__attribute__((noinline)) static float sse_float(const float *a, int n)
{
    float s = 0.0f, m = -1e30f;
    for (int i = 0; i < n; i++) { s = s * 0.5f + a[i] * a[i]; m = a[i] > m ? a[i] : m; }
    return s / m;
}

/* ---- SIMD integer ---- */
__attribute__((noinline)) static uint64_t simd_int(const uint8_t *data)
{
    __m128i a = _mm_loadu_si128((const __m128i *)data);
    __m128i b = _mm_loadu_si128((const __m128i *)(data + 16));
    __m128i s = _mm_add_epi32(a, b);                         /* SSE2 */
    s = _mm_xor_si128(s, _mm_slli_epi64(a, 7));
    __m128i m = _mm_madd_epi16(a, b);
    __m128i sad = _mm_sad_epu8(a, b);
    __m128i sh = _mm_shuffle_epi8(a, b);                     /* SSSE3 */
    __m128i mx = _mm_max_epi32(a, b);                        /* SSE4.1 */
    __m128i ml = _mm_mullo_epi32(a, b);
    __m128i pk = _mm_packs_epi32(m, ml);
    __m128i r = _mm_add_epi64(_mm_xor_si128(s, sh), _mm_add_epi64(mx, _mm_add_epi64(sad, pk)));
    uint64_t lo = (uint64_t)_mm_cvtsi128_si64(r);
    uint64_t hi = (uint64_t)_mm_extract_epi64(r, 1);
    return lo ^ (hi * 31) ^ (uint64_t)_mm_movemask_epi8(_mm_cmpgt_epi8(a, b)) ^ (uint64_t)_mm_testz_si128(a, b);
}

/* ---- SSE4.2 ---- */
__attribute__((noinline)) static uint32_t crc(const char *s, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { uint64_t q; __builtin_memcpy(&q, s + i, 8); c = (uint32_t)_mm_crc32_u64(c, q); }
    for (; i < n; i++) c = _mm_crc32_u8(c, (unsigned char)s[i]);
    return ~c;
}

__attribute__((noinline)) static int find(const char *hay, const char *needle)
{
    __m128i h = _mm_loadu_si128((const __m128i *)hay);
    __m128i n = _mm_loadu_si128((const __m128i *)needle);
    return _mm_cmpistri(n, h, _SIDD_UBYTE_OPS | _SIDD_CMP_EQUAL_ORDERED);
}

/* ---- struct copies and memcpy ---- */
typedef struct { double d[4]; int64_t q[3]; char name[24]; float f; } Rec;

__attribute__((noinline)) static uint64_t records(Rec *dst, const Rec *src, int n, char *scratch)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++)
    {
        Rec r = src[i % 3];
        r.q[i % 3] += i;
        r.d[i % 4] *= 1.25;
        r.f += (float)i;
        dst[i] = r;
        __builtin_memcpy(scratch + (i * 13) % 200, &r, (size_t)(8 + i % 50));
    }
    for (int i = 0; i < n * (int)sizeof(Rec); i++) h = (h ^ ((unsigned char *)dst)[i]) * 1099511628211ull;
    for (int i = 0; i < 260; i++) h = (h ^ (unsigned char)scratch[i]) * 1099511628211ull;
    return h;
}

int compute(char *buf)
{
    W w = { buf };
    str(&w, "vtx compiled-C kernel");

    long double b = basel(2000);
    line(&w, "x87 basel"); ldbl(&w, b);
    line(&w, "x87 to double"); dbl(&w, (double)b);
    line(&w, "x87 to float"); flt(&w, (float)b);
    line(&w, "x87 to int64"); dec(&w, (int64_t)(b * 1e15L));
    volatile long double vals[6] = { 1.5L, -2.25L, 3.0e300L, -7.0L, 1e-4000L, 12345.678L };
    long double mix = x87_mix(vals, 6);
    line(&w, "x87 mix"); ldbl(&w, mix);
    line(&w, "x87 compare"); dec(&w, (mix > b) * 2 + (mix == mix));

    double d = sse_double(500);
    line(&w, "sse2 double"); dbl(&w, d);
    line(&w, "sse2 to int"); dec(&w, (int64_t)(d * 1000.0));
    line(&w, "sse2 to float"); flt(&w, (float)d);
    float fs[8] = { 1.5f, -3.25f, 2.0f, 0.1f, 100.0f, -0.0f, 7.75f, 3.0e-39f };
    float f = sse_float(fs, 8);
    line(&w, "sse float"); flt(&w, f);
    line(&w, "sse float to double"); dbl(&w, (double)f * 3.0);

    uint8_t data[32];
    for (int i = 0; i < 32; i++) data[i] = (uint8_t)(i * 37 + 11);
    line(&w, "simd int"); hex(&w, simd_int(data), 16);

    static const char text[] = "123456789";
    line(&w, "crc32c 123456789"); hex(&w, crc(text, 9), 8);
    static const char lorem[] = "The quick brown fox jumps over the lazy dog, again and again.";
    line(&w, "crc32c lorem"); hex(&w, crc(lorem, sizeof lorem - 1), 8);
    char hay[32] = "find the needle here...";
    char nee[32] = "needle";
    line(&w, "pcmpistri"); dec(&w, find(hay, nee));
    char nee2[32] = "absent";
    line(&w, "pcmpistri miss"); dec(&w, find(hay, nee2));

    static Rec src[3], dst[16];
    static char scratch[260];
    for (int i = 0; i < 3; i++)
    {
        for (int k = 0; k < 4; k++) src[i].d[k] = i * 1.5 + k;
        for (int k = 0; k < 3; k++) src[i].q[k] = (int64_t)i << (k * 20);
        for (int k = 0; k < 23; k++) src[i].name[k] = (char)('a' + (i + k) % 26);
        src[i].f = 0.5f * i;
    }
    line(&w, "records"); hex(&w, records(dst, src, 16, scratch), 16);
    put(&w, '\n');
    return (int)(w.p - buf);
}

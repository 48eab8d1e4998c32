// Live paging (issue 12, docs/live-paging.md): the microphone cut into frames of 16-bit mono
// PCM, run in the browser's audio thread. The node is made with channelCount 1 ("explicit"),
// so the browser has already mixed the microphone down to mono.
//
// Normally the AudioContext runs at the rate the server announces (22,050 Hz) and the browser
// converts the microphone to it. A browser that cannot connect a microphone to a context at
// another rate than the device's (older Firefox) gets a context at the device's rate, and
// this converts: a low-pass below the target's Nyquist frequency, then linear interpolation.
// Each frame goes to the page's script with its peak (0..1) for the level meter.
class LiveFrames extends AudioWorkletProcessor {
  constructor(options) {
    super();
    var opts = (options && options.processorOptions) || {};
    var ms = opts.frameMs || 20;
    this.target = opts.targetRate || sampleRate;
    this.size = Math.round((this.target * ms) / 1000); // 441 samples at 22,050 Hz
    this.frame = new Int16Array(this.size);
    this.filled = 0;
    this.peak = 0;
    this.running = true;
    this.step = sampleRate / this.target; // input samples per output sample
    this.at = 0; // where the next output sample lies between the last two input samples
    this.last = 0; // the last (filtered) input sample
    if (this.step !== 1) this.lowPass(0.45 * Math.min(this.target, sampleRate));
    var self = this;
    this.port.onmessage = function (ev) {
      if (ev.data === "stop") self.running = false;
    };
  }

  // A biquad low-pass (RBJ cookbook, Q = 1/sqrt(2)) at `cutoff` Hz, run twice (4 poles).
  lowPass(cutoff) {
    var w = (2 * Math.PI * cutoff) / sampleRate;
    var alpha = Math.sin(w) / Math.SQRT2;
    var cos = Math.cos(w);
    var a0 = 1 + alpha;
    this.b = [(1 - cos) / 2 / a0, (1 - cos) / a0, (1 - cos) / 2 / a0];
    this.a = [(-2 * cos) / a0, (1 - alpha) / a0];
    this.z = [0, 0, 0, 0];
  }

  filter(x) {
    var b = this.b, a = this.a, z = this.z;
    var y = b[0] * x + z[0];
    z[0] = b[1] * x - a[0] * y + z[1];
    z[1] = b[2] * x - a[1] * y;
    var y2 = b[0] * y + z[2];
    z[2] = b[1] * y - a[0] * y2 + z[3];
    z[3] = b[2] * y - a[1] * y2;
    return y2;
  }

  emit(x) {
    if (x > 1) x = 1;
    else if (x < -1) x = -1;
    var magnitude = x < 0 ? -x : x;
    if (magnitude > this.peak) this.peak = magnitude;
    this.frame[this.filled] = x < 0 ? Math.round(x * 32768) : Math.round(x * 32767);
    this.filled += 1;
    if (this.filled === this.size) {
      var full = this.frame;
      this.port.postMessage({ pcm: full.buffer, peak: this.peak }, [full.buffer]);
      this.frame = new Int16Array(this.size);
      this.filled = 0;
      this.peak = 0;
    }
  }

  process(inputs) {
    if (!this.running) return false;
    var input = inputs[0];
    if (!input || !input.length) return true; // no microphone connected (yet)
    var samples = input[0];
    var i;
    if (this.step === 1) {
      for (i = 0; i < samples.length; i += 1) this.emit(samples[i]);
      return true;
    }
    for (i = 0; i < samples.length; i += 1) {
      var x = this.filter(samples[i]);
      while (this.at <= 1) {
        this.emit(this.last + (x - this.last) * this.at);
        this.at += this.step;
      }
      this.at -= 1;
      this.last = x;
    }
    return true;
  }
}

registerProcessor("live-frames", LiveFrames);

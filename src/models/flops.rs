//! Floating-point work of one training step, counted from the layer shapes, so `gradtop bench`
//! can say how close to the machine's arithmetic peak each workload runs.
//!
//! Only the products are counted (dense layers, convolutions, transposed convolutions): two
//! FLOPs per multiply-add, the way every roofline counts them. Activations, pooling, batch norm,
//! the loss and Adam are elementwise and memory-bound; they are a rounding error in FLOPs and are
//! measured in bytes instead. Backward of a layer costs its forward once for the weight gradient
//! and once more for the input gradient, which the first layer of a network skips (nothing
//! upstream needs it).

/// One layer that does a product, with the multiply-adds of its forward pass per sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// `in → out`.
    Dense {
        /// Input width.
        inputs: usize,
        /// Output width.
        outputs: usize,
    },
    /// A convolution producing `(c_out, h_out, w_out)` from `c_in` channels with a `k×k` kernel.
    Conv {
        /// Input channels.
        c_in: usize,
        /// Output channels.
        c_out: usize,
        /// Kernel side.
        k: usize,
        /// Output side (square).
        out_side: usize,
    },
    /// A transposed convolution scattering a `(c_in, h_in, w_in)` input through a `k×k` kernel.
    ConvTranspose {
        /// Input channels.
        c_in: usize,
        /// Output channels.
        c_out: usize,
        /// Kernel side.
        k: usize,
        /// Input side (square).
        in_side: usize,
    },
}

impl Layer {
    /// Multiply-adds of the forward pass, per sample.
    pub const fn macs(self) -> u64 {
        (match self {
            Layer::Dense { inputs, outputs } => inputs * outputs,
            Layer::Conv {
                c_in,
                c_out,
                k,
                out_side,
            } => c_in * c_out * k * k * out_side * out_side,
            Layer::ConvTranspose {
                c_in,
                c_out,
                k,
                in_side,
            } => c_in * c_out * k * k * in_side * in_side,
        }) as u64
    }
}

/// The product layers of a described classifier, from its layers and their inferred shapes.
pub fn classifier_layers(
    layers: &[crate::models::classifier::spec::LayerSpec],
    summary: &crate::models::classifier::spec::Summary,
) -> Vec<Layer> {
    use crate::models::classifier::spec::{LayerSpec, Shape};
    let mut input = summary.input;
    let mut out = Vec::new();
    for (layer, row) in layers.iter().zip(&summary.rows) {
        match (layer, input, row.output) {
            (
                LayerSpec::Conv2d { kernel, .. },
                Shape::Image { c, .. },
                Shape::Image { c: c_out, h, .. },
            ) => out.push(Layer::Conv {
                c_in: c,
                c_out,
                k: *kernel,
                out_side: h,
            }),
            (LayerSpec::Dense { units, .. }, input, _) => out.push(Layer::Dense {
                inputs: input.len(),
                outputs: *units,
            }),
            _ => {}
        }
        input = row.output;
    }
    out
}

/// Which gradients a pass through a network computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Forward only.
    Forward,
    /// Forward, then weight gradients and input gradients (but not of the network's input).
    Train,
    /// Forward, then input gradients of every layer and no weight gradient: a frozen network
    /// that a gradient passes through to reach the network that fed it (the GAN's G update).
    Through,
}

/// Multiply-adds per sample of `pass` through `net`.
pub fn macs(net: &[Layer], pass: Pass) -> u64 {
    let forward: u64 = net.iter().map(|l| l.macs()).sum();
    let first = net.first().map_or(0, |l| l.macs());
    match pass {
        Pass::Forward => forward,
        Pass::Train => forward + forward + (forward - first),
        Pass::Through => forward + forward,
    }
}

/// The classifier CNN: conv 1→32 3×3 (26×26), pool, dense 5408→128, dense 128→10.
pub const CNN: [Layer; 3] = [
    Layer::Conv {
        c_in: 1,
        c_out: 32,
        k: 3,
        out_side: 26,
    },
    Layer::Dense {
        inputs: 5408,
        outputs: 128,
    },
    Layer::Dense {
        inputs: 128,
        outputs: 10,
    },
];

/// The classifier MLP: 784→256→128→10.
pub const MLP: [Layer; 3] = [
    Layer::Dense {
        inputs: 784,
        outputs: 256,
    },
    Layer::Dense {
        inputs: 256,
        outputs: 128,
    },
    Layer::Dense {
        inputs: 128,
        outputs: 10,
    },
];

/// The MLP GAN's generator: 100→256→512→784.
pub const GAN_G: [Layer; 3] = [
    Layer::Dense {
        inputs: 100,
        outputs: 256,
    },
    Layer::Dense {
        inputs: 256,
        outputs: 512,
    },
    Layer::Dense {
        inputs: 512,
        outputs: 784,
    },
];

/// The MLP GAN's discriminator: 784→512→256→1.
pub const GAN_D: [Layer; 3] = [
    Layer::Dense {
        inputs: 784,
        outputs: 512,
    },
    Layer::Dense {
        inputs: 512,
        outputs: 256,
    },
    Layer::Dense {
        inputs: 256,
        outputs: 1,
    },
];

/// The DCGAN's generator: dense 100→128·7·7, convT 128→64 4×4 (7→14), convT 64→1 (14→28).
pub const DCGAN_G: [Layer; 3] = [
    Layer::Dense {
        inputs: 100,
        outputs: 6272,
    },
    Layer::ConvTranspose {
        c_in: 128,
        c_out: 64,
        k: 4,
        in_side: 7,
    },
    Layer::ConvTranspose {
        c_in: 64,
        c_out: 1,
        k: 4,
        in_side: 14,
    },
];

/// The DCGAN's discriminator: conv 1→64 4×4/2 (14×14), conv 64→128 (7×7), dense 6272→1.
pub const DCGAN_D: [Layer; 3] = [
    Layer::Conv {
        c_in: 1,
        c_out: 64,
        k: 4,
        out_side: 14,
    },
    Layer::Conv {
        c_in: 64,
        c_out: 128,
        k: 4,
        out_side: 7,
    },
    Layer::Dense {
        inputs: 6272,
        outputs: 1,
    },
];

/// FLOPs of one classifier training step on `batch` images.
pub fn classifier_step(net: &[Layer], batch: usize) -> u64 {
    2 * macs(net, Pass::Train) * batch as u64
}

/// FLOPs of one GAN iteration (one D update on `batch` real and `batch` fake images, one G
/// update through the just-updated D), as gradtop and the PyTorch reference loop do it: the
/// fake batch is generated once and reused by the G update.
pub fn gan_iteration(g: &[Layer], d: &[Layer], batch: usize) -> u64 {
    let per_sample = macs(g, Pass::Forward)           // G(z)
        + 2 * macs(d, Pass::Train)                    // D on real and fake, D's gradients
        + macs(d, Pass::Through)                      // D(G(z)) again, gradient through D
        + (macs(g, Pass::Train) - macs(g, Pass::Forward)); // G's backward
    2 * per_sample * batch as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_macs_by_hand() {
        // 26·26 outputs × 32 channels × 9 taps.
        assert_eq!(CNN[0].macs(), 194_688);
        // 7·7 inputs × 128 channels, each scattering a 4×4 kernel into 64 channels.
        assert_eq!(DCGAN_G[1].macs(), 6_422_528);
        // 7·7 outputs × 128 channels, each from 4×4 taps of 64 channels.
        assert_eq!(DCGAN_D[1].macs(), 6_422_528);
    }

    #[test]
    fn described_built_ins_count_as_the_built_ins() {
        use crate::models::classifier::config::ModelKind;
        use crate::models::classifier::{spec, INPUT};
        for (kind, expected) in [(ModelKind::Cnn, &CNN), (ModelKind::Mlp, &MLP)] {
            let layers = kind.layers();
            let summary = spec::infer(&layers, INPUT, 10).expect("built-in");
            assert_eq!(classifier_layers(&layers, &summary), expected.to_vec());
        }
    }

    #[test]
    fn classifier_steps_by_hand() {
        // CNN per image: conv forward 194,688 + its weight gradient 194,688 (no input
        // gradient), dense 5408·128 = 692,224 three times, dense 1,280 three times:
        // 2,469,888 multiply-adds.
        assert_eq!(classifier_step(&CNN, 1), 2 * 2_469_888);
        assert_eq!(classifier_step(&CNN, 32), 32 * 4_939_776);
        // MLP per image: 200,704 twice, 32,768 and 1,280 three times each: 503,552.
        assert_eq!(classifier_step(&MLP, 1), 2 * 503_552);
    }

    #[test]
    fn gan_iterations_by_hand() {
        // MLP GAN per image: G forward 558,080; D forward on real and fake 2·532,736; D's
        // weight gradients 2·532,736 and input gradients past its first layer 2·131,328; D
        // forward again 532,736 and its input gradients 532,736; G's weight gradients 558,080
        // and input gradients past its first layer 532,480: 5,107,712.
        assert_eq!(gan_iteration(&GAN_G, &GAN_D, 1), 2 * 5_107_712);
        assert_eq!(gan_iteration(&GAN_G, &GAN_D, 64), 64 * 10_215_424);
        // DCGAN per image: G forward 7,250,432; D forward 2·6,629,504; D's weight gradients
        // 2·6,629,504 and input gradients past conv1 2·6,428,800; D again 6,629,504 twice; G's
        // weight gradients 7,250,432 and input gradients past its dense layer 6,623,232:
        // 73,758,720.
        assert_eq!(gan_iteration(&DCGAN_G, &DCGAN_D, 1), 2 * 73_758_720);
    }
}
